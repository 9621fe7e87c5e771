import ArgumentParser
import NostrCore

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete the stored events a NIP-01 filter matches.",
        discussion: """
            It says how many match, then deletes them in batches (their index entries too). \
            Unlike a NIP-09 deletion, nothing stops the same events from being published again. \
            A relay may keep serving from the store meanwhile.
            """
    )

    @Option(name: .long, help: "The filter, e.g. '{\"authors\":[\"<hex>\"]}'; '{}' matches every event.")
    var filter: String

    @Flag(name: .long, help: "Only say how many events match; delete nothing.")
    var dryRun = false

    @OptionGroup var store: StoreAccess

    func run() throws {
        let selection = try parseFilter(filter)
        let storage = try store.open()
        defer { storage.close() }
        let matching = try walk(storage, selection) { _ in }
        if dryRun {
            print("\(Progress.grouped(matching)) events match; nothing deleted (--dry-run)")
            return
        }
        print("\(Progress.grouped(matching)) events match")
        guard matching > 0, !selection.matchesNothing else {
            print("deleted 0 events")
            return
        }
        // A filter's limit picks the newest matches: delete exactly those ids.
        if selection.limit != nil {
            var ids: [Bytes32] = []
            _ = try walk(storage, selection) { json in
                if let event = Event.decode(json: json) { ids.append(event.id) }
            }
            print("deleted \(Progress.grouped(try storage.remove(ids: ids))) events")
        } else {
            print("deleted \(Progress.grouped(try storage.removeAll(matching: selection))) events")
        }
    }
}
