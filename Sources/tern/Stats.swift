import ArgumentParser
import NostrStore

#if canImport(Glibc)
    import Glibc
#endif

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print what the store holds: events by kind, the store's size, each index's size, the time range."
    )

    @OptionGroup var store: StoreAccess

    func run() throws {
        let storage = try store.open()
        defer { storage.close() }
        print(Self.report(try storage.statistics()), terminator: "")
    }

    static func report(_ s: StoreStatistics) -> String {
        var out = "events      \(Progress.grouped(s.events))\n"
        out += "oldest      \(s.oldest.map(Self.date) ?? "-")\n"
        out += "newest      \(s.newest.map(Self.date) ?? "-")\n"
        out +=
            "store file  \(megabytes(s.fileBytes)) (pages in use \(megabytes(s.usedBytes)), map size \(megabytes(s.mapSize)))\n"
        out += "\nby kind\n"
        for (kind, count) in s.kinds {
            out += "  \(String(kind).padding(8))\(Progress.grouped(count))\n"
        }
        out += "\ntables (entries, bytes)\n"
        for table in s.tables {
            out +=
                "  \(table.name.padding(18))\(Progress.grouped(table.entries).padding(14))\(megabytes(table.bytes))\n"
        }
        return out
    }

    static func megabytes(_ bytes: Int) -> String {
        let tenths = Int((Double(bytes) / 104_857.6).rounded())
        return "\(tenths / 10).\(tenths % 10) MiB"
    }

    /// `created_at` as `2026-12-02 13:57:41 UTC (1764683861)`.
    static func date(_ t: Int64) -> String {
        var seconds = time_t(t)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var text = [UInt8](repeating: 0, count: 32)
        let n = text.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { strftime($0.baseAddress, 32, "%Y-%m-%d %H:%M:%S UTC", &parts) }
        }
        return "\(String(decoding: text[0..<n], as: UTF8.self)) (\(t))"
    }
}
