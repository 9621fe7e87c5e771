/// Appends JSON to a byte array. Two string modes: `canonical` follows NIP-01's id rules
/// (escape exactly \n \" \\ \r \t \b \f, every other character verbatim); `output` also escapes
/// the remaining control characters as \u00XX so that what we send is valid JSON.
public enum JSONWriter {
    public enum Mode: Sendable { case canonical, output }

    @inlinable
    public static func appendString(_ string: String, to out: inout [UInt8], mode: Mode) {
        out.append(UInt8(ascii: "\""))
        var s = string
        s.withUTF8 { appendEscaped($0, to: &out, mode: mode) }
        out.append(UInt8(ascii: "\""))
    }

    @inlinable
    public static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8], mode: Mode) {
        var runStart = 0
        var i = 0
        let n = bytes.count
        while i < n {
            let c = bytes[i]
            let escape: UInt8?
            switch c {
            case 0x0A: escape = UInt8(ascii: "n")
            case 0x22: escape = UInt8(ascii: "\"")
            case 0x5C: escape = UInt8(ascii: "\\")
            case 0x0D: escape = UInt8(ascii: "r")
            case 0x09: escape = UInt8(ascii: "t")
            case 0x08: escape = UInt8(ascii: "b")
            case 0x0C: escape = UInt8(ascii: "f")
            default:
                if c < 0x20 && mode == .output {
                    if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                    out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30])  // \u00
                    out.append(Hex.digits[Int(c >> 4)])
                    out.append(Hex.digits[Int(c & 0xF)])
                    i += 1
                    runStart = i
                    continue
                }
                escape = nil
            }
            if let e = escape {
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                out.append(0x5C)
                out.append(e)
                runStart = i + 1
            }
            i += 1
        }
        if runStart < n { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<n])) }
    }

    @inlinable
    public static func appendInt(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var v = value.magnitude
        var digits = 0
        var t = v
        repeat {
            digits += 1
            t /= 10
        } while t > 0
        // Written from the end in place (reversing a slice of `out` copied it).
        let start = out.count
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        out.withUnsafeMutableBufferPointer { buffer in
            var i = start + digits - 1
            repeat {
                buffer[i] = UInt8(ascii: "0") &+ UInt8(v % 10)
                v /= 10
                i -= 1
            } while v > 0
        }
    }

    @inlinable
    public static func appendHexString(_ value: Bytes32, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        value.appendHex(to: &out)
        out.append(UInt8(ascii: "\""))
    }

    public static func appendTags(_ tags: Tags, to out: inout [UInt8], mode: Mode) {
        out.append(UInt8(ascii: "["))
        tags.bytes.withUnsafeBufferPointer { bytes in
            let layout = tags.layout
            var h = 0
            while h < layout.count {
                if h > 0 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "["))
                let fields = Int(layout[h])
                for j in 0..<fields {
                    if j > 0 { out.append(UInt8(ascii: ",")) }
                    let range = Int(layout[h + 1 + j])..<Int(layout[h + 2 + j])
                    out.append(UInt8(ascii: "\""))
                    appendEscaped(UnsafeBufferPointer(rebasing: bytes[range]), to: &out, mode: mode)
                    out.append(UInt8(ascii: "\""))
                }
                out.append(UInt8(ascii: "]"))
                h += 2 + fields
            }
        }
        out.append(UInt8(ascii: "]"))
    }
}

extension Event {
    /// The NIP-01 serialization `[0,pubkey,created_at,kind,tags,content]` whose SHA-256 is the id.
    public func appendCanonical(to out: inout [UInt8]) {
        out.append(contentsOf: [UInt8(ascii: "["), UInt8(ascii: "0"), UInt8(ascii: ",")])
        JSONWriter.appendHexString(pubkey, to: &out)
        out.append(UInt8(ascii: ","))
        JSONWriter.appendInt(createdAt, to: &out)
        out.append(UInt8(ascii: ","))
        JSONWriter.appendInt(Int64(kind), to: &out)
        out.append(UInt8(ascii: ","))
        JSONWriter.appendTags(tags, to: &out, mode: .canonical)
        out.append(UInt8(ascii: ","))
        JSONWriter.appendString(content, to: &out, mode: .canonical)
        out.append(UInt8(ascii: "]"))
    }

    /// An upper-bound guess of the serialized size, so that building it allocates once.
    @inlinable
    public var estimatedJSONSize: Int {
        // The fixed part is 345 bytes with a 10-digit created_at and a 5-digit kind.
        // Each tag and field adds at most 3 bytes of brackets, quotes and commas; `layout` has
        // more entries than tags and fields together.
        360 + content.utf8.count + content.utf8.count / 8 + tags.bytes.count + tags.bytes.count / 8 + 3
            * tags.layout.count
    }

    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(estimatedJSONSize)
        appendCanonical(to: &out)
        return out
    }

    /// The event as a JSON object, the form relays store and send.
    public func appendJSON(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"id":"#.utf8)
        JSONWriter.appendHexString(id, to: &out)
        out.append(contentsOf: #","pubkey":"#.utf8)
        JSONWriter.appendHexString(pubkey, to: &out)
        out.append(contentsOf: #","created_at":"#.utf8)
        JSONWriter.appendInt(createdAt, to: &out)
        out.append(contentsOf: #","kind":"#.utf8)
        JSONWriter.appendInt(Int64(kind), to: &out)
        out.append(contentsOf: #","tags":"#.utf8)
        JSONWriter.appendTags(tags, to: &out, mode: .output)
        out.append(contentsOf: #","content":"#.utf8)
        JSONWriter.appendString(content, to: &out, mode: .output)
        out.append(contentsOf: #","sig":""#.utf8)
        sig.appendHex(to: &out)
        out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: "}")])
    }

    public var jsonBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(estimatedJSONSize)
        appendJSON(to: &out)
        return out
    }

    public var json: String { String(decoding: jsonBytes, as: UTF8.self) }
}
