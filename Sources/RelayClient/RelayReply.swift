import NostrCore

/// A message from a relay, as a client reads it (NIP-01, NIP-42, NIP-45, NIP-77). An EVENT's
/// event is parsed but not checked: `EventIntake` checks it.
public enum RelayReply: Sendable {
    case event(subscriptionID: String, Result<Event, EventReader.Failure>)
    case eose(subscriptionID: String)
    case closed(subscriptionID: String, message: String)
    case ok(id: Bytes32, accepted: Bool, message: String)
    case notice(String)
    case auth(challenge: String)
    case negMsg(subscriptionID: String, message: [UInt8]?)
    case negErr(subscriptionID: String, reason: String)
    /// Anything else, or a message that could not be read.
    case other

    /// Reads one text message.
    public static func read(_ bytes: [UInt8]) -> RelayReply {
        bytes.withUnsafeBufferPointer { read($0) }
    }

    public static func read(_ bytes: UnsafeBufferPointer<UInt8>) -> RelayReply {
        var s = JSONScanner(bytes)
        do {
            try s.expect(UInt8(ascii: "["))
            let verb = try s.readString()
            guard s.consume(UInt8(ascii: ",")) else { return .other }
            if verb == "EVENT" {
                let subscriptionID = try s.readString()
                guard s.consume(UInt8(ascii: ",")) else { return .other }
                let start = s.position
                try s.skipValue()
                let event = EventReader.read(UnsafeBufferPointer(rebasing: bytes[start..<s.position]))
                return .event(subscriptionID: subscriptionID, event)
            }
            if verb == "OK" {
                guard let id = Bytes32(hex: try s.readString()), s.consume(UInt8(ascii: ",")) else { return .other }
                let accepted = s.peek() == UInt8(ascii: "t")
                try s.skipValue()
                let message = s.consume(UInt8(ascii: ",")) ? try s.readString() : ""
                return .ok(id: id, accepted: accepted, message: message)
            }
            let first = try s.readString()
            switch verb {
            case "EOSE": return .eose(subscriptionID: first)
            case "NOTICE": return .notice(first)
            case "AUTH": return .auth(challenge: first)
            case "CLOSED", "NEG-ERR", "NEG-MSG":
                let second = s.consume(UInt8(ascii: ",")) ? try s.readString() : ""
                if verb == "CLOSED" { return .closed(subscriptionID: first, message: second) }
                if verb == "NEG-ERR" { return .negErr(subscriptionID: first, reason: second) }
                return .negMsg(subscriptionID: first, message: Hex.decode(second))
            default: return .other
            }
        } catch {
            return .other
        }
    }
}
