import EventStorage
import Foundation
import Logging
import NostrCore
import NostrStore
import NostrTools
import RelayCore
import XCTest

/// REQs are read on the readers, in time slices, connections taking turns: a heavy scan on one
/// connection does not hold up a small REQ on another. Asserted by the order answers arrive in,
/// never by a time.
final class ReadFairnessTests: XCTestCase {
    /// A filter that walks every `t`="b" entry (kind 2 events) and matches none of them.
    static let heavy = ##"{"kinds":[1],"#t":["b"],"limit":10}"##

    /// A store of `count` events: half kind 1 tagged "a", half kind 2 tagged "b", so `heavy`
    /// scans half the store. Written straight to the store (the relay does not re-verify
    /// stored events, so these carry no signatures).
    func makeStore(count: Int) throws -> (path: String, probe: Bytes32) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tern-fair-\(UUID().uuidString)").path
        let store = try EventStore(path: path, options: StoreOptions(mapSize: 256 << 20), logger: Logger(label: "t"))
        let writer = EventWriter(storage: store, clock: { 1_700_000_000 }, logger: Logger(label: "t"))
        writer.start()
        var rng = SplitMix64(seed: 77)
        func random() -> Bytes32 { Bytes32(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next()) }
        var probe = Bytes32.zero
        for i in 0..<count {
            let heavy = i % 2 == 1
            let event = Event(
                id: random(), pubkey: random(), createdAt: 1_600_000_000 + Int64(i), kind: heavy ? 2 : 1,
                tags: [["t", heavy ? "b" : "a"]], content: "event \(i)", sig: Signature64(r: .zero, s: .zero))
            if i == 0 { probe = event.id }
            while !writer.submit(Write(.insert, event, json: event.jsonBytes), requester: nil) {
                usleep(1000)  // the inbox is full: let the writer drain some of it
            }
        }
        writer.shutdown()  // commits what is queued
        store.close()
        return (path, probe)
    }

    func testHeavyScansOnOtherConnectionsDoNotHoldUpASmallREQ() async throws {
        let (path, probe) = try makeStore(count: 24_000)
        var limits = Limits()
        limits.readerThreads = 2
        let relay = try TestRelay(limits: limits, path: path)
        defer { relay.stop() }
        let log = ArrivalLog()
        var heavy: [TestClient] = []
        for i in 0..<4 {
            let (client, _) = try await relay.connectReady()
            try await client.record(into: log, as: "heavy\(i)")
            heavy.append(client)
        }
        let (small, _) = try await relay.connectReady()
        try await small.record(into: log, as: "small")
        // Each heavy connection first asks for one id, then three heavy REQs in the same burst:
        // once the small answer is back, the heavy ones are queued behind it on the readers.
        for client in heavy {
            client.send(#"["REQ","ping",{"ids":["\#(probe.hex)"]}]"#)
            for j in 0..<3 { client.send(#"["REQ","h\#(j)",\#(Self.heavy)]"#) }
        }
        for client in heavy { _ = try await client.messages(until: "EOSE", seconds: 60) }
        small.send(#"["REQ","one",{"ids":["\#(probe.hex)"]}]"#)
        let answer = try await small.messages(until: "EOSE", seconds: 60)
        XCTAssertEqual(answer.first?[0] as? String, "EVENT")
        for client in heavy {
            for j in 0..<3 {
                let m = try await client.messages(until: "EOSE", seconds: 120)
                XCTAssertEqual(m.last?[1] as? String, "h\(j)", "each heavy REQ is answered, in order")
            }
        }
        let smallDone = try XCTUnwrap(log.first("small", #"["EOSE""#))
        let firstHeavyDone = try XCTUnwrap(
            log.first(where: { $0.0.hasPrefix("heavy") && $0.1.hasPrefix(#"["EOSE","h"#) }))
        XCTAssertLessThan(smallDone, firstHeavyDone, "the small REQ finished before any heavy one")
    }

    func testOneConnectionsQueueOfHeavyREQsDoesNotStarveAnothersSingleREQ() async throws {
        let (path, probe) = try makeStore(count: 24_000)
        var limits = Limits()
        limits.readerThreads = 1  // one reader: only its time slices keep the turns fair
        let relay = try TestRelay(limits: limits, path: path)
        defer { relay.stop() }
        let log = ArrivalLog()
        let (hog, _) = try await relay.connectReady()
        try await hog.record(into: log, as: "hog")
        let (small, _) = try await relay.connectReady()
        try await small.record(into: log, as: "small")
        hog.send(#"["REQ","ping",{"ids":["\#(probe.hex)"]}]"#)
        for j in 0..<8 { hog.send(#"["REQ","h\#(j)",\#(Self.heavy)]"#) }
        _ = try await hog.messages(until: "EOSE", seconds: 60)  // the heavy ones are queued now
        small.send(#"["REQ","one",{"ids":["\#(probe.hex)"]}]"#)
        _ = try await small.messages(until: "EOSE", seconds: 60)
        for _ in 0..<8 { _ = try await hog.messages(until: "EOSE", seconds: 120) }
        let smallDone = try XCTUnwrap(log.first("small", #"["EOSE""#))
        let hogDone = log.all.enumerated().filter { $0.element.0 == "hog" && $0.element.1.hasPrefix(#"["EOSE","h"#) }
        XCTAssertEqual(hogDone.count, 8)
        XCTAssertLessThan(
            smallDone, hogDone[0].offset, "the single REQ waited for neither the queue of heavy ones nor the first")
    }
}
