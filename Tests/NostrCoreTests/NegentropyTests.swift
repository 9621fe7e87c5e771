import NostrTools
import XCTest

@testable import NostrCore

/// Negentropy protocol version 1, checked against values worked out by hand from the spec
/// (../shared/specs/negentropy-protocol-v1.md), and by reconciling random sets.
final class NegentropyTests: XCTestCase {
    func varint(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        Negentropy.appendVarint(value, to: &out)
        return out
    }

    func testVarintsAreBase128MostSignificantDigitFirst() throws {
        XCTAssertEqual(varint(0), [0x00])
        XCTAssertEqual(varint(1), [0x01])
        XCTAssertEqual(varint(127), [0x7F])
        XCTAssertEqual(varint(128), [0x81, 0x00])
        XCTAssertEqual(varint(300), [0x82, 0x2C])  // 2·128 + 44
        XCTAssertEqual(varint(16383), [0xFF, 0x7F])
        XCTAssertEqual(varint(16384), [0x81, 0x80, 0x00])
        XCTAssertEqual(varint(UInt64.max).count, 10)
        for value: UInt64 in [0, 1, 127, 128, 300, 16384, 1 << 40, UInt64.max] {
            var reader = NegentropyReader(varint(value), from: 0)
            XCTAssertEqual(try reader.varint(), value)
            XCTAssertTrue(reader.atEnd)
        }
        var truncated = NegentropyReader([0x81], from: 0)
        XCTAssertThrowsError(try truncated.varint())
        var huge = NegentropyReader([UInt8](repeating: 0xFF, count: 11) + [0x00], from: 0)
        XCTAssertThrowsError(try huge.varint())
    }

    /// SHA-256 over the 256-bit little-endian sum of the ids and the count as a varint, first
    /// 16 bytes. Expected values computed independently (Python's hashlib and integers).
    func testFingerprintsSumIdsLittleEndianModulo2To256() throws {
        func id(_ bytes: [UInt8]) -> Bytes32 { Bytes32(bytes + [UInt8](repeating: 0, count: 32 - bytes.count))! }
        var empty = Negentropy.Accumulator()
        XCTAssertEqual(empty.fingerprint.hex, "7f9c9e31ac8256ca2f258583df262dbc")
        // 1 + (2²⁵⁶ − 1) wraps to 0 with a count of 2.
        var wrap = Negentropy.Accumulator()
        wrap.add(id([1]))
        wrap.add(Bytes32([UInt8](repeating: 0xFF, count: 32))!)
        XCTAssertEqual(wrap.sum, [UInt8](repeating: 0, count: 32))
        XCTAssertEqual(wrap.fingerprint.hex, "58cc2f44d3a27866874701fbad573da9")
        // 0xFF + 0x01 carries into the second byte: the first byte is the least significant.
        var carry = Negentropy.Accumulator()
        carry.add(id([0xFF]))
        carry.add(id([0x01]))
        XCTAssertEqual(carry.sum, [0x00, 0x01] + [UInt8](repeating: 0, count: 30))
        XCTAssertEqual(carry.fingerprint.hex, "e02b1741933239009331f2dbba6130ee")
        // 200 ids (a count of two varint digits): bytes i repeated 32 times, i = 0..<200.
        var many = Negentropy.Accumulator()
        for i in 0..<200 { many.add(Bytes32([UInt8](repeating: UInt8(i), count: 32))!) }
        XCTAssertEqual(many.fingerprint.hex, "ee324757553658b9258bb21e203f8fe6")
        empty.add(.zero)
        XCTAssertEqual(empty.count, 1)
    }

    func testBoundsAreTheShortestPrefixThatSeparatesNeighbours() {
        let a = Negentropy.Item(timestamp: 10, id: Bytes32([0xAA, 0xBB, 0x01] + [UInt8](repeating: 0, count: 29))!)
        let b = Negentropy.Item(timestamp: 10, id: Bytes32([0xAA, 0xBB, 0x07] + [UInt8](repeating: 9, count: 29))!)
        let c = Negentropy.Item(timestamp: 11, id: .zero)
        let ab = Negentropy.Bound.between(a, b)
        XCTAssertEqual(ab.timestamp, 10)
        XCTAssertEqual(ab.length, 3, "two shared bytes, plus one")
        XCTAssertEqual(ab.id.bytes.prefix(4), [0xAA, 0xBB, 0x07, 0x00])
        XCTAssertTrue(ab.isAbove(a))
        XCTAssertFalse(ab.isAbove(b))
        let bc = Negentropy.Bound.between(b, c)
        XCTAssertEqual(bc.timestamp, 11)
        XCTAssertEqual(bc.length, 0, "different timestamps need no prefix")
    }

    /// Worked by hand: three items (fewer than 32) make one id-list range up to infinity.
    func testAnInitialMessageOfFewItemsIsOneIdList() throws {
        let ids = (1...3).map { Bytes32([UInt8](repeating: UInt8($0), count: 32))! }
        var client = NegentropySession(
            items: ids.enumerated().map { .init(timestamp: UInt64(100 + $0.offset), id: $0.element) })
        let message = client.initiate()
        let expected: [UInt8] = [0x61, 0x00, 0x00, 0x02, 0x03] + ids.flatMap(\.bytes)
        XCTAssertEqual(message, expected)
        // The server answers an id list with its own (the client must learn what it lacks),
        // here the same; the client then has nothing more to ask.
        let server = NegentropySession(items: client.items)
        let answer = try server.respond(to: message)
        XCTAssertEqual(answer, expected)
        var have: [Bytes32] = []
        var need: [Bytes32] = []
        XCTAssertNil(try client.reconcile(answer, have: &have, need: &need))
        XCTAssertEqual(have, [])
        XCTAssertEqual(need, [])
        // A server with one more item names it; the client learns it needs it.
        let extra = Negentropy.Item(timestamp: 50, id: Bytes32([UInt8](repeating: 9, count: 32))!)
        let bigger = try NegentropySession(items: client.items + [extra]).respond(to: message)
        XCTAssertEqual(bigger, [0x61, 0x00, 0x00, 0x02, 0x04] + extra.id.bytes + ids.flatMap(\.bytes))
        XCTAssertNil(try client.reconcile(bigger, have: &have, need: &need))
        XCTAssertEqual(need, [extra.id])
    }

    /// Worked by hand: 40 items in 16 buckets (3 + 3 + ... of 40 = 16·2 + 8): bucket bounds carry
    /// timestamps as offsets from the previous bound of the message, plus one.
    func testAnInitialMessageOfManyItemsIsSixteenFingerprints() throws {
        let items = (0..<40).map {
            Negentropy.Item(timestamp: UInt64(1000 + 10 * $0), id: Bytes32(w0: UInt64($0), w1: 0, w2: 0, w3: 0))
        }
        var client = NegentropySession(items: items)
        let message = client.initiate()
        var reader = NegentropyReader(message, from: 1)
        var start = 0
        var raw = NegentropyReader(message, from: 1)
        for bucket in 0..<16 {
            let size = 2 + (bucket < 8 ? 1 : 0)
            let end = start + size
            if bucket == 0 {
                XCTAssertEqual(try raw.varint(), 1000 + 10 * 3 + 1, "the first bound: 1 + its timestamp")
                _ = try raw.varint()
                _ = try raw.varint()
                _ = try raw.take(16)
                XCTAssertEqual(try raw.varint(), 10 * 3 + 1, "the next: 1 + the offset from the first")
            }
            let bound = try reader.bound()
            XCTAssertEqual(bound.timestamp, end == 40 ? Negentropy.infinity : items[end].timestamp)
            XCTAssertEqual(bound.length, 0)
            XCTAssertEqual(try reader.mode(), .fingerprint)
            var accumulator = Negentropy.Accumulator()
            for item in items[start..<end] { accumulator.add(item.id) }
            XCTAssertEqual(Array(try reader.take(16)), accumulator.fingerprint)
            start = end
        }
        XCTAssertTrue(reader.atEnd)
    }

    func testAnotherVersionGetsTheVersionThisSideSpeaks() throws {
        let server = NegentropySession(items: [])
        XCTAssertEqual(try server.respond(to: [0x62, 0x00, 0x00]), [0x61])
        XCTAssertThrowsError(try server.respond(to: [0x59]))
        XCTAssertThrowsError(try server.respond(to: []))
        var client = NegentropySession(items: [])
        _ = client.initiate()
        var have: [Bytes32] = []
        var need: [Bytes32] = []
        XCTAssertThrowsError(try client.reconcile([0x62], have: &have, need: &need))
    }

    func testHostileMessagesAreRefusedNotCrashedOn() {
        var rng = SplitMix64(seed: 77)
        let items = (0..<500).map {
            Negentropy.Item(timestamp: UInt64($0 / 3), id: Bytes32(w0: rng.next(), w1: rng.next(), w2: 0, w3: 0))
        }
        let server = NegentropySession(items: items, frameSizeLimit: 4096)
        var client = NegentropySession(items: Array(items.prefix(250)))
        let valid = client.initiate()
        for round in 0..<3000 {
            var message =
                round % 2 == 0
                ? valid : [0x61] + (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if round % 2 == 0 {
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    message[1 + Int(rng.next() % UInt64(message.count - 1))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            if let answer = try? server.respond(to: message) {
                XCTAssertEqual(answer.first, 0x61)
                XCTAssertLessThanOrEqual(answer.count, 4096)
            }
        }
        var reader = NegentropyReader([0x02, 0x21] + [UInt8](repeating: 0, count: 33), from: 0)
        XCTAssertThrowsError(try reader.bound(), "a prefix of 33 bytes")
        XCTAssertThrowsError(
            try server.respond(to: [0x61, 0x00, 0x00, 0x02, 0xFF, 0x7F]), "an id list longer than its message")
    }

    /// Two random sets reconcile to exactly their differences, with and without frame size
    /// limits, with timestamps shared by many items.
    func testRandomSetsReconcileToExactlyTheirDifference() throws {
        var rng = SplitMix64(seed: 2024)
        for round in 0..<40 {
            let shared = Int(rng.next() % 3000)
            let onlyClient = Int(rng.next() % (round % 4 == 0 ? 400 : 40))
            let onlyServer = Int(rng.next() % (round % 5 == 0 ? 400 : 40))
            let spread = round % 3 == 0 ? 5 : 1_000_000  // few timestamps: long shared-time runs
            func item() -> Negentropy.Item {
                Negentropy.Item(
                    timestamp: rng.next() % UInt64(spread),
                    id: Bytes32(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next()))
            }
            let common = (0..<shared).map { _ in item() }
            let mine = (0..<onlyClient).map { _ in item() }
            let theirs = (0..<onlyServer).map { _ in item() }
            let limit = [0, 4096, 20_000][round % 3]
            var client = NegentropySession(items: common + mine, frameSizeLimit: limit)
            let server = NegentropySession(items: theirs + common, frameSizeLimit: limit)
            var have: [Bytes32] = []
            var need: [Bytes32] = []
            var message: [UInt8]? = client.initiate()
            var rounds = 0
            while let outgoing = message {
                if limit > 0 { XCTAssertLessThanOrEqual(outgoing.count, limit) }
                let answer = try server.respond(to: outgoing)
                if limit > 0 { XCTAssertLessThanOrEqual(answer.count, limit) }
                message = try client.reconcile(answer, have: &have, need: &need)
                rounds += 1
                XCTAssertLessThan(rounds, 500, "round \(round) does not end")
                if rounds >= 500 { break }
            }
            XCTAssertEqual(Set(have), Set(mine.map(\.id)), "round \(round): have")
            XCTAssertEqual(Set(need), Set(theirs.map(\.id)), "round \(round): need")
        }
    }
}

extension [UInt8] {
    fileprivate var hex: String {
        reduce(into: "") { out, byte in
            out += String(byte >> 4, radix: 16)
            out += String(byte & 15, radix: 16)
        }
    }
}
