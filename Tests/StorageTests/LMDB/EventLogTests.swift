import EventStorage
import Foundation
import NostrCore
import NostrStore
import XCTest

/// The append-only log: records come back in order with their numbers across reopenings and
/// segments; a log cut at any byte of its last record, or with that record damaged, opens to
/// the records before it and keeps appending after them; old segments go, the open one stays.
final class EventLogTests: XCTestCase {
    var directory = ""

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tern-log-\(UUID().uuidString)").path
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    func payload(_ i: Int) -> [UInt8] {
        Array("record \(i) ".utf8) + [UInt8](repeating: UInt8(i & 0xFF), count: i % 40)
    }

    func replayed(_ log: EventLog, from: UInt64 = 1) throws -> [(UInt64, [UInt8])] {
        var out: [(UInt64, [UInt8])] = []
        try log.replay(from: from) { number, bytes in out.append((number, Array(bytes))) }
        return out
    }

    func segmentFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }.sorted()
    }

    func testRecordsComeBackInOrderAcrossReopenings() throws {
        var log: EventLog? = try EventLog(directory: directory)
        XCTAssertEqual(try log!.append([payload(1), payload(2)]), 1)
        XCTAssertEqual(try log!.append([payload(3)]), 3)
        log = nil
        let reopened = try EventLog(directory: directory)
        XCTAssertEqual(reopened.next, 4)
        XCTAssertEqual(try reopened.append([payload(4)]), 4)
        let all = try replayed(reopened)
        XCTAssertEqual(all.map(\.0), [1, 2, 3, 4])
        XCTAssertEqual(all.map(\.1), (1...4).map(payload))
        XCTAssertEqual(try replayed(reopened, from: 3).map(\.0), [3, 4])
    }

    /// A crash mid-append leaves the last record short: at every byte of it, the log opens to
    /// the records before, says what it cut, and appends after them.
    func testALogCutAtEveryByteOfItsLastRecordOpensToTheRecordBefore() throws {
        do {
            let log = try EventLog(directory: directory)
            try log.append((1...5).map(payload))
            try log.append([payload(6)])
        }
        let file = directory + "/" + (try segmentFiles()[0])
        let whole = try Data(contentsOf: URL(fileURLWithPath: file))
        let lastRecordSize = 8 + payload(6).count
        let lastStart = whole.count - lastRecordSize
        for cut in lastStart..<whole.count {
            try whole.prefix(cut).write(to: URL(fileURLWithPath: file))
            var repairs: [String] = []
            let log = try EventLog(directory: directory) { repairs.append($0) }
            XCTAssertEqual(repairs.count, cut == lastStart ? 0 : 1, "cut at \(cut): \(repairs)")
            XCTAssertEqual(log.next, 6, "cut at \(cut)")
            XCTAssertEqual(try replayed(log).map(\.1), (1...5).map(payload), "cut at \(cut)")
            XCTAssertEqual(try log.append([payload(60)]), 6)
            XCTAssertEqual(try replayed(log).map(\.1), (1...5).map(payload) + [payload(60)], "cut at \(cut)")
        }
    }

    func testADamagedLastRecordIsCutAndADamagedEarlierOneIsAnError() throws {
        do {
            let log = try EventLog(directory: directory)
            try log.append([payload(1), payload(2), payload(3)])
        }
        let file = directory + "/" + (try segmentFiles()[0])
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count - 2] ^= 0x40  // inside the last record's payload
        try bytes.write(to: URL(fileURLWithPath: file))
        var repairs: [String] = []
        let log = try EventLog(directory: directory) { repairs.append($0) }
        XCTAssertEqual(repairs.count, 1)
        XCTAssertTrue(repairs[0].contains("fails its checksum"), repairs[0])
        XCTAssertEqual(try replayed(log).map(\.1), [payload(1), payload(2)])
        // Damage in a closed segment (synced before the next began) is not a torn tail.
        let small = directory + "-small"
        defer { try? FileManager.default.removeItem(atPath: small) }
        let segmented = try EventLog(directory: small, segmentLimit: 64)
        for i in 1...6 { try segmented.append([payload(i)]) }
        let first = small + "/" + (try FileManager.default.contentsOfDirectory(atPath: small).sorted()[0])
        var closed = try Data(contentsOf: URL(fileURLWithPath: first))
        closed[closed.count - 1] ^= 0x01
        try closed.write(to: URL(fileURLWithPath: first))
        XCTAssertThrowsError(try replayed(segmented)) { error in
            XCTAssertTrue("\(error)".contains("fails its checksum"), "\(error)")
        }
    }

    func testSegmentsRollOverAndOldOnesAreRemoved() throws {
        let log = try EventLog(directory: directory, segmentLimit: 100)
        for i in 1...12 { try log.append([payload(i)]) }
        let before = try segmentFiles()
        XCTAssertGreaterThan(before.count, 2, "\(before)")
        XCTAssertEqual(try replayed(log).map(\.0), Array(1...12))
        try log.removeSegments(before: 8)
        let after = try segmentFiles()
        XCTAssertLessThan(after.count, before.count)
        let kept = try replayed(log)
        XCTAssertTrue(kept.map(\.0).contains(8), "record 8 is not before 8: its segment stays")
        XCTAssertEqual(kept.last?.0, 12)
        try log.removeSegments(before: 1000)
        XCTAssertEqual(try segmentFiles().count, 1, "the open segment stays")
        XCTAssertEqual(try log.append([payload(13)]), 13)
    }

    func testWhatIsNotALogIsRefused() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data("not a log at all".utf8).write(to: URL(fileURLWithPath: directory + "/00000000000000000001.log"))
        XCTAssertThrowsError(try EventLog(directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("not a tern log segment"), "\(error)")
        }
        for garbage in [[UInt8](), [0xFF, 0xFF, 0xFF, 0xFF], LogFormat.header + [0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0]] {
            let scan = LogFormat.scan(garbage)
            XCTAssertTrue(scan.payloads.isEmpty)
            XCTAssertNotNil(scan.problem)
        }
    }

    /// A record's payload: the writes come back as they went in (action, JSON), and a payload
    /// cut short, with an unknown action, a replace of a regular kind or JSON that is not an
    /// event is refused whole.
    func testARecordHoldsItsWritesAndRefusesWhatItDidNotWrite() throws {
        let note = makeEvent(id: Bytes32(w0: 1, w1: 2, w2: 3, w3: 4), pubkey: .zero, createdAt: 100, kind: 1)
        let profile = makeEvent(id: Bytes32(w0: 5, w1: 6, w2: 7, w3: 8), pubkey: .zero, createdAt: 100, kind: 0)
        let writes = [Write.byKind(note), Write.byKind(profile)]
        let payload = LogRecord.encode(writes)
        let back = try XCTUnwrap(payload.withUnsafeBytes { LogRecord.decode($0) })
        XCTAssertEqual(back.map(\.action), writes.map(\.action))
        XCTAssertEqual(back.map(\.json), writes.map(\.json))
        XCTAssertEqual(back.map(\.event.id), [note.id, profile.id])
        for cut in 0..<payload.count where cut != payload.count - profile.jsonBytes.count - 5 && cut > 0 {
            XCTAssertNil(payload.prefix(cut).withUnsafeBytes { LogRecord.decode($0) }, "cut at \(cut)")
        }
        var unknown = payload
        unknown[0] = 9
        XCTAssertNil(unknown.withUnsafeBytes { LogRecord.decode($0) })
        var replacedNote = payload
        replacedNote[0] = 1
        XCTAssertNil(replacedNote.withUnsafeBytes { LogRecord.decode($0) }, "a kind-1 note is not replaceable")
        let garbage: [UInt8] = [0, 3, 0, 0, 0] + Array("{x}".utf8)
        XCTAssertNil(garbage.withUnsafeBytes { LogRecord.decode($0) })
    }
}
