import NIOCore
import NostrCore

/// Just enough reading of a relay's messages to time them: the verb, the first string argument
/// (an event id for OK, a subscription id otherwise), OK's flag and an EVENT's id.
struct RelayReply {
    enum Verb { case ok, event, eose, closed, notice, auth, other }

    var verb: Verb = .other
    /// OK: the event id; EVENT/EOSE/CLOSED: the subscription id.
    var first: [UInt8] = []
    var accepted = false
    var message: [UInt8] = []
    /// EVENT: the id of the event carried.
    var eventID: Bytes32?

    init(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var s = JSONScanner(bytes)
            guard (try? s.expect(UInt8(ascii: "["))) != nil, let (verbRange, _) = try? s.readRawString() else { return }
            if s.rawEquals(verbRange, "OK") {
                verb = .ok
            } else if s.rawEquals(verbRange, "EVENT") {
                verb = .event
            } else if s.rawEquals(verbRange, "EOSE") {
                verb = .eose
            } else if s.rawEquals(verbRange, "CLOSED") {
                verb = .closed
            } else if s.rawEquals(verbRange, "NOTICE") {
                verb = .notice
            } else if s.rawEquals(verbRange, "AUTH") {
                verb = .auth
            }
            guard s.consume(UInt8(ascii: ",")), let (firstRange, _) = try? s.readRawString() else { return }
            first = Array(bytes[firstRange])
            switch verb {
            case .ok:
                guard s.consume(UInt8(ascii: ",")) else { return }
                accepted = s.peek() == UInt8(ascii: "t")
                try? s.skipValue()
                if s.consume(UInt8(ascii: ",")), let (m, _) = try? s.readRawString() { message = Array(bytes[m]) }
            case .event:
                eventID = Self.findID(bytes, from: s.position)
            default:
                break
            }
        }
    }

    /// The 64 hex characters after `"id":"` (relays put the id anywhere in the object).
    static func findID(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Bytes32? {
        let key: [UInt8] = Array(#""id":""#.utf8)
        var i = start
        while i + key.count + 64 <= bytes.count {
            if bytes[i] == key[0] {
                var match = true
                for k in 1..<key.count where bytes[i + k] != key[k] {
                    match = false
                    break
                }
                if match {
                    return Bytes32(hex: UnsafeBufferPointer(rebasing: bytes[(i + key.count)..<(i + key.count + 64)]))
                }
            }
            i += 1
        }
        return nil
    }
}
