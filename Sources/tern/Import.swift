import ArgumentParser
import NostrCore

#if canImport(Glibc)
    import Glibc
#endif

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import events from a JSONL file (one event per line) into the store.",
        discussion: """
            Each event's id and signature are checked, then the NIP rules apply as when a client \
            publishes: duplicates are skipped, the newest version of a replaceable or addressable \
            event is kept, deletion requests (NIP-09) and requests to vanish (NIP-62) take effect, \
            ephemeral and expired events are not stored. Events are committed in large batches. \
            A bad line is reported with its number and the import goes on. A relay may be serving \
            from the same store meanwhile.
            """
    )

    @Argument(help: "The JSONL file, or - for standard input.")
    var file: String = "-"

    @Flag(name: .long, help: "Do not check ids and signatures: only for a dump you trust (a backup of your own relay).")
    var noVerify = false

    @OptionGroup var store: StoreAccess

    func run() throws {
        let fd: Int32 = file == "-" ? 0 : open(file, O_RDONLY)
        guard fd >= 0 else { throw ToolError("cannot open \(file): \(String(cString: strerror(errno)))") }
        defer { if fd != 0 { close(fd) } }
        var info = stat()
        let size = fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : nil
        let storage = try store.open()
        defer { storage.close() }
        if noVerify {
            Progress.write(
                "import: --no-verify: ids and signatures are NOT checked; use it only for a dump you trust\n")
        }
        let importer = Importer(storage: storage, verify: !noVerify, now: Int64(time(nil)))
        let summary = importer.run(fd: fd, progress: Progress(verb: "import", total: size))
        print(Self.report(summary, verified: !noVerify), terminator: "")
        if let failure = summary.failure { throw ToolError("import stopped: \(failure)") }
    }

    static func report(_ s: ImportSummary, verified: Bool) -> String {
        let rate = s.seconds > 0 ? Int(Double(s.lines) / s.seconds) : 0
        var out = "read \(Progress.grouped(s.lines)) events in \(format(s.seconds)) s "
        out += "(\(Progress.grouped(rate)) events/s)\(verified ? "" : ", not verified")\n"
        func row(_ name: String, _ n: Int, _ note: String = "") {
            let number = Progress.grouped(n)
            out += "  \(name.padding(12))\(String(repeating: " ", count: max(0, 12 - number.count)))\(number)"
            out += note.isEmpty ? "\n" : "  \(note)\n"
        }
        row("accepted", s.accepted)
        row("replaced", s.replaced, "of the accepted, in place of an older version (replaceable kinds)")
        row("duplicate", s.duplicate, "already stored")
        row("superseded", s.superseded, "a newer version of the replaceable event is stored")
        row("deleted", s.deleted, "deleted by its author (NIP-09, NIP-62)")
        row("ephemeral", s.ephemeral, "not stored")
        row("expired", s.expired, "NIP-40, not stored")
        row("invalid", s.invalidCount)
        for (reason, n) in s.invalid.sorted(by: { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }) {
            out += "    \(Progress.grouped(n))  \(reason)\n"
        }
        return out
    }

    static func format(_ seconds: Double) -> String {
        let tenths = Int((seconds * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
