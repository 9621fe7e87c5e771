import NIOConcurrencyHelpers
import NostrCore
import NostrTools
import RelayCore
import XCTest

final class RecordingSubscriber: Subscriber {
    let received = NIOLockedValueBox<[(String, [String])]>([])
    func admits(_ event: Event) -> Bool { true }
    func deliver(_ lives: [LiveEvent]) {
        received.withLockedValue {
            for live in lives { $0.append((String(decoding: live.json, as: UTF8.self), live.subscriptionIDs)) }
        }
    }
}

final class SubscriptionIndexTests: XCTestCase {
    let alice = Signer(seed: 41)
    let bob = Signer(seed: 42)

    func ids(_ matches: [(any Subscriber, [String])]) -> Set<String> {
        Set(matches.flatMap(\.1))
    }

    func testMatchesThroughEachIndexAndOnlyMatchingFilters() {
        let index = SubscriptionIndex()
        let sub = RecordingSubscriber()
        let e = alice.event(kind: 1, content: "", tags: [["t", "swift"], ["p", bob.publicKey.hex]], createdAt: 100)
        index.add(connection: 1, subscriptionID: "byID", filters: [Filter(ids: [e.id])], subscriber: sub)
        index.add(
            connection: 1, subscriptionID: "byAuthor", filters: [Filter(authors: [alice.publicKey], kinds: [1])],
            subscriber: sub)
        index.add(
            connection: 1, subscriptionID: "byAuthorWrongKind",
            filters: [Filter(authors: [alice.publicKey], kinds: [7])], subscriber: sub)
        index.add(
            connection: 1, subscriptionID: "byTag",
            filters: [Filter(tags: [.init(name: UInt8(ascii: "t"), values: ["swift"])])], subscriber: sub)
        index.add(
            connection: 1, subscriptionID: "byOtherTag",
            filters: [Filter(tags: [.init(name: UInt8(ascii: "t"), values: ["rust"])])], subscriber: sub)
        index.add(
            connection: 1, subscriptionID: "byP",
            filters: [Filter(tags: [.init(name: UInt8(ascii: "p"), values: [bob.publicKey.hex])])], subscriber: sub)
        index.add(connection: 1, subscriptionID: "byKind", filters: [Filter(kinds: [1])], subscriber: sub)
        index.add(connection: 1, subscriptionID: "all", filters: [Filter()], subscriber: sub)
        index.add(connection: 1, subscriptionID: "allButTooOld", filters: [Filter(until: 99)], subscriber: sub)
        index.add(connection: 1, subscriptionID: "bob", filters: [Filter(authors: [bob.publicKey])], subscriber: sub)
        index.add(connection: 1, subscriptionID: "empty", filters: [Filter(authors: [])], subscriber: sub)
        index.add(
            connection: 1, subscriptionID: "secondFilter",
            filters: [Filter(kinds: [9]), Filter(authors: [alice.publicKey])], subscriber: sub)
        let matches = index.match(e)
        XCTAssertEqual(matches.count, 1, "one entry per connection")
        XCTAssertEqual(ids(matches), ["byID", "byAuthor", "byTag", "byP", "byKind", "all", "secondFilter"])
        XCTAssertEqual(matches[0].1.count, 7, "each subscription once")
    }

    func testRemoveReplaceAndConnectionsAreSeparate() {
        let index = SubscriptionIndex()
        let one = RecordingSubscriber()
        let two = RecordingSubscriber()
        let e = alice.event(kind: 1, content: "", createdAt: 100)
        index.add(connection: 1, subscriptionID: "s", filters: [Filter(kinds: [1])], subscriber: one)
        index.add(connection: 2, subscriptionID: "s", filters: [Filter(kinds: [1])], subscriber: two)
        XCTAssertEqual(index.match(e).count, 2)
        index.add(connection: 1, subscriptionID: "s", filters: [Filter(kinds: [2])], subscriber: one)
        XCTAssertEqual(index.match(e).count, 1, "REQ with the same id replaces the subscription")
        XCTAssertTrue(index.match(e)[0].0 === two)
        index.remove(connection: 2, subscriptionID: "s")
        XCTAssertTrue(index.match(e).isEmpty)
        XCTAssertEqual(index.count, 1)
        index.removeAll(connection: 1)
        XCTAssertEqual(index.count, 0)
        XCTAssertEqual(index.count(connection: 1), 0)
    }

    func testManySubscriptionsOnlyTheRelevantAreConsidered() {
        let index = SubscriptionIndex()
        let sub = RecordingSubscriber()
        for i in 0..<10_000 {
            index.add(
                connection: UInt64(i), subscriptionID: "s",
                filters: [Filter(authors: [Signer(seed: UInt64(10_000 + i % 50)).publicKey])], subscriber: sub)
        }
        let target = Signer(seed: 10_007)
        let matches = index.match(target.event(kind: 1, content: "", createdAt: 1))
        XCTAssertEqual(matches.count, 200, "10,000 / 50 subscribers follow this author")
        XCTAssertTrue(index.match(alice.event(kind: 1, content: "", createdAt: 1)).isEmpty)
    }
}
