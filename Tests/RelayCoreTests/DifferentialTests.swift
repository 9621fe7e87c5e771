import NostrCore
import NostrReference
import NostrTools
import RelayCore
import XCTest

/// Random events and random filters fed to the live subscription index and to the naive
/// reference; both must agree. (The store's side of the differential test runs for every
/// backend in StorageTests/Conformance.)
final class DifferentialTests: XCTestCase {
    var corpus = RandomCorpus(seed: 42, events: 3000)
    var events: [Event] { corpus.events }
    func randomFilter() -> Filter { corpus.randomFilter() }
    var rng: SplitMix64 {
        get { corpus.rng }
        set { corpus.rng = newValue }
    }

    func testLiveMatcherAgreesWithTheReference() {
        let index = SubscriptionIndex()
        let subscriber = RecordingSubscriber()
        var subscriptions: [[Filter]] = []
        for i in 0..<300 {
            let filters = (0..<Int.random(in: 1...3, using: &rng)).map { _ in randomFilter() }
            subscriptions.append(filters)
            // A few connections with many subscriptions each, as real clients have.
            index.add(connection: UInt64(i % 7), subscriptionID: "s\(i)", filters: filters, subscriber: subscriber)
        }
        // Replacing and closing subscriptions must leave the index consistent.
        for i in stride(from: 0, to: 300, by: 10) {
            let filters = [randomFilter()]
            subscriptions[i] = filters
            index.add(connection: UInt64(i % 7), subscriptionID: "s\(i)", filters: filters, subscriber: subscriber)
        }
        for i in stride(from: 5, to: 300, by: 25) {
            subscriptions[i] = []
            index.remove(connection: UInt64(i % 7), subscriptionID: "s\(i)")
        }

        var mismatches = 0
        for event in events {
            let matched = index.match(event).flatMap(\.1)
            let expected = Set(
                subscriptions.indices.filter { subscriptions[$0].contains { naiveMatches($0, event) } }.map { "s\($0)" }
            )
            XCTAssertEqual(matched.count, Set(matched).count, "each subscription is matched at most once")
            if Set(matched) != expected {
                mismatches += 1
                XCTFail("event \(event.json): got \(Set(matched).sorted()), expected \(expected.sorted())")
                if mismatches > 3 { break }
            }
        }
    }
}
