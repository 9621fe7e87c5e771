import ArgumentParser

#if canImport(Glibc)
    import Glibc
#endif

struct Compact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a compacted copy of the store (free pages dropped), for a backup or to shrink it.",
        discussion: """
            It reads one snapshot, so a relay may keep serving meanwhile. To shrink the store in \
            use: stop the relay, replace data.mdb in the data directory with the copy's, start it.
            """
    )

    @Option(
        name: .long, help: "Directory for the copy (created if missing; must not hold a store). Default: <data>.compact"
    )
    var to: String?

    @OptionGroup var store: StoreAccess

    func run() throws {
        let directory = try to ?? (store.configuration().dataDirectory + ".compact")
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw ToolError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        if access(directory + "/data.mdb", F_OK) == 0 {
            throw ToolError("\(directory) already holds a store (data.mdb); choose another directory")
        }
        let storage = try store.open()
        defer { storage.close() }
        let started = Progress.now()
        do {
            try storage.compact(to: directory)
        } catch {
            throw ToolError("compact failed: \(error)")
        }
        var info = stat()
        let bytes = stat(directory + "/data.mdb", &info) == 0 ? Int(info.st_size) : 0
        print(
            "wrote \(directory)/data.mdb: \(Stats.megabytes(bytes)), \(Progress.grouped(storage.count)) events, "
                + "in \(Import.format(Progress.now() - started)) s")
    }
}
