import ArgumentParser
import NostrCore

#if canImport(Glibc)
    import Glibc
#endif

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write stored events as JSONL (one event per line), newest first unless told otherwise.",
        discussion: """
            It reads one consistent snapshot of the store, so a relay may keep serving and \
            writing meanwhile. The output reads back with `tern import`.
            """
    )

    @Option(name: .long, help: "Only the events this NIP-01 filter matches, e.g. '{\"kinds\":[0,3]}'.")
    var filter: String?

    @Flag(name: .long, help: "Oldest first.")
    var oldestFirst = false

    @Argument(help: "The output file, or - for standard output.")
    var file: String = "-"

    @OptionGroup var store: StoreAccess

    func run() throws {
        let selection = try filter.map(parseFilter) ?? Filter()
        let storage = try store.open()
        defer { storage.close() }
        let fd: Int32 = file == "-" ? 1 : open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ToolError("cannot write \(file): \(String(cString: strerror(errno)))") }
        defer { if fd != 1 { close(fd) } }
        let out = OutputFile(fd: fd)
        let progress = Progress(verb: "export", total: filter == nil ? storage.count : nil)
        var written = 0
        let newline: [UInt8] = [0x0A]
        _ = try walk(storage, selection, oldestFirst: oldestFirst) { json in
            try out.write(json)
            try newline.withUnsafeBufferPointer { try out.write($0) }
            written += 1
            if written & 1023 == 0 { progress.update(done: written, events: written) }
        }
        try out.flush()
        if fd != 1, fsync(fd) != 0 { throw ToolError("cannot sync \(file): \(String(cString: strerror(errno)))") }
        progress.finish(done: written, events: written)
        Progress.write("exported \(Progress.grouped(written)) events in \(Import.format(progress.elapsed)) s\n")
    }
}
