/// Writers for the messages a relay sends (NIP-01, NIP-42). Each appends JSON bytes.
public enum RelayMessage {
    public static func ok(id: Bytes32, accepted: Bool, message: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(100 + message.utf8.count)
        out.append(contentsOf: #"["OK","#.utf8)
        JSONWriter.appendHexString(id, to: &out)
        if accepted { out.append(contentsOf: ",true,".utf8) } else { out.append(contentsOf: ",false,".utf8) }
        JSONWriter.appendString(message, to: &out, mode: .output)
        out.append(UInt8(ascii: "]"))
        return out
    }

    public static func eose(subscriptionID: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96)
        out.append(contentsOf: #"["EOSE","#.utf8)
        JSONWriter.appendString(subscriptionID, to: &out, mode: .output)
        out.append(UInt8(ascii: "]"))
        return out
    }

    public static func closed(subscriptionID: String, message: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96)
        out.append(contentsOf: #"["CLOSED","#.utf8)
        JSONWriter.appendString(subscriptionID, to: &out, mode: .output)
        out.append(UInt8(ascii: ","))
        JSONWriter.appendString(message, to: &out, mode: .output)
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// NIP-45: `["COUNT",<id>,{"count":N}]`, with `"approximate":true` and `"hll"` when given.
    public static func count(subscriptionID: String, count: Int, approximate: Bool, hll: String?) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + (hll?.utf8.count ?? 0))
        out.append(contentsOf: #"["COUNT","#.utf8)
        JSONWriter.appendString(subscriptionID, to: &out, mode: .output)
        out.append(contentsOf: #",{"count":\#(count)"#.utf8)
        if approximate { out.append(contentsOf: #","approximate":true"#.utf8) }
        if let hll {
            out.append(contentsOf: #","hll":"#.utf8)
            JSONWriter.appendString(hll, to: &out, mode: .output)
        }
        out.append(contentsOf: "}]".utf8)
        return out
    }

    /// NIP-77: `["NEG-MSG",<id>,<hex>]`.
    public static func negMsg(subscriptionID: String, message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + subscriptionID.utf8.count + 2 * message.count)
        out.append(contentsOf: #"["NEG-MSG","#.utf8)
        JSONWriter.appendString(subscriptionID, to: &out, mode: .output)
        out.append(contentsOf: #",""#.utf8)
        for byte in message {
            out.append(Hex.digit(byte >> 4))
            out.append(Hex.digit(byte & 0xF))
        }
        out.append(contentsOf: #""]"#.utf8)
        return out
    }

    /// NIP-77: `["NEG-ERR",<id>,<reason>]`; the reconciliation is over.
    public static func negErr(subscriptionID: String, reason: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96)
        out.append(contentsOf: #"["NEG-ERR","#.utf8)
        JSONWriter.appendString(subscriptionID, to: &out, mode: .output)
        out.append(UInt8(ascii: ","))
        JSONWriter.appendString(reason, to: &out, mode: .output)
        out.append(UInt8(ascii: "]"))
        return out
    }

    public static func notice(_ message: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96)
        out.append(contentsOf: #"["NOTICE","#.utf8)
        JSONWriter.appendString(message, to: &out, mode: .output)
        out.append(UInt8(ascii: "]"))
        return out
    }

    public static func auth(challenge: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96)
        out.append(contentsOf: #"["AUTH","#.utf8)
        JSONWriter.appendString(challenge, to: &out, mode: .output)
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// The prefix `["EVENT","<subid>",` that goes in front of stored event JSON, plus the `]`.
    public static func appendEventPrefix(subscriptionID: String, to out: inout [UInt8]) {
        out.append(contentsOf: #"["EVENT","#.utf8)
        JSONWriter.appendString(subscriptionID, to: &out, mode: .output)
        out.append(UInt8(ascii: ","))
    }
}
