import XCTest

@testable import NostrCore

/// NIP-45's HyperLogLog rules: the offset from the filter, the register and the rank.
final class HyperLogLogTests: XCTestCase {
    func testTheOffsetComesFromCharacter32OfTheTargetsHex() {
        let id = String(repeating: "0", count: 32) + "a" + String(repeating: "1", count: 31)
        XCTAssertEqual(HyperLogLog.offset(forValue: id), 10 + 8, "an id: its character 32, 0xa, plus 8")
        let pubkey = String(repeating: "f", count: 64)
        XCTAssertEqual(HyperLogLog.offset(forValue: "30023:\(pubkey):my-article"), 15 + 8, "an address: its pubkey")
        // Anything else: the hex of its SHA-256 (sha256("hello") = 2cf24dba5fb0a30e26e83b2ac5b9e29e 1b16...).
        XCTAssertEqual(HyperLogLog.offset(forValue: "hello"), 1 + 8)
        let uppercase = id.uppercased()
        XCTAssertNotEqual(HyperLogLog.offset(forValue: uppercase), 18, "not a hex id: hashed")
    }

    func testOnlyTheCommonQueriesGetRegisters() {
        let target = String(repeating: "ab", count: 32)
        func filter(_ tag: Character, _ kinds: [UInt16]) -> Filter {
            Filter(kinds: kinds, tags: [.init(name: UInt8(ascii: tag.unicodeScalars.first!), values: [target])])
        }
        for (tag, kinds) in [("e", [7]), ("e", [6]), ("q", [1, 1111]), ("e", [1]), ("E", [1111]), ("p", [3])]
            as [(Character, [UInt16])]
        {
            XCTAssertEqual(HyperLogLog.offset(for: filter(tag, kinds)), 0xa + 8, "\(tag) \(kinds)")
        }
        XCTAssertNil(HyperLogLog.offset(for: filter("e", [7, 6])))
        XCTAssertNil(HyperLogLog.offset(for: filter("t", [1])))
        XCTAssertNil(HyperLogLog.offset(for: Filter(kinds: [7])))
        var withAuthor = filter("e", [7])
        withAuthor.authors = [.zero]
        XCTAssertNil(HyperLogLog.offset(for: withAuthor))
    }

    func testARegisterKeepsTheLongestRunOfZeroBitsPlusOne() {
        var hll = HyperLogLog(offset: 8)
        func key(_ register: UInt8, _ after: [UInt8]) -> Bytes32 {
            var bytes = [UInt8](repeating: 0xFF, count: 32)
            bytes[8] = register
            bytes.replaceSubrange(9..<(9 + after.count), with: after)
            return Bytes32(bytes)!
        }
        hll.add(key(3, [0x80]))  // no leading zero: rank 1
        XCTAssertEqual(hll.registers[3], 1)
        hll.add(key(3, [0x10]))  // 3 zeros: rank 4
        XCTAssertEqual(hll.registers[3], 4)
        hll.add(key(3, [0x40]))  // 1 zero: smaller, kept 4
        XCTAssertEqual(hll.registers[3], 4)
        hll.add(key(200, [0x00, 0x00, 0x01]))  // 16 + 7 zeros: rank 24
        XCTAssertEqual(hll.registers[200], 24)
        XCTAssertEqual(hll.registers.filter { $0 != 0 }.count, 2)
        XCTAssertEqual(hll.hex.count, 512)
    }
}
