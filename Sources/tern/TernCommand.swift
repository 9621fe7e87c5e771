import ArgumentParser

@main
struct Tern: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tern",
        abstract: "A Nostr relay: NIP-01 over WebSocket on an embedded LMDB store.",
        subcommands: [
            Serve.self, Import.self, Export.self, Scan.self, Delete.self, Stats.self, Compact.self, Admin.self,
            Sync.self, Stream.self, Bench.self,
        ]
    )
}
