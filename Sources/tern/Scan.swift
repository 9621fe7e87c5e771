import ArgumentParser

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the stored events a NIP-01 filter matches, one JSON object per line, newest first."
    )

    @Argument(help: "The filter, e.g. '{\"authors\":[\"<hex>\"],\"kinds\":[1],\"limit\":10}'.")
    var filter: String

    @OptionGroup var store: StoreAccess

    func run() throws {
        let selection = try parseFilter(filter)
        let storage = try store.open()
        defer { storage.close() }
        let out = OutputFile(fd: 1)
        let newline: [UInt8] = [0x0A]
        _ = try walk(storage, selection) { json in
            try out.write(json)
            try newline.withUnsafeBufferPointer { try out.write($0) }
        }
        try out.flush()
    }
}
