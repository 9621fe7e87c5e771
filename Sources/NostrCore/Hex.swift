/// Lowercase hexadecimal helpers. Nostr requires lowercase hex everywhere.
public enum Hex {
    public static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The lowercase hex digit for a nibble (0-15).
    @inlinable
    public static func digit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ (nibble &- 10)
    }

    /// The value of a lowercase hex digit, or nil (uppercase is refused on purpose).
    @inlinable
    public static func lowerNibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c &- UInt8(ascii: "a") &+ 10
        default: return nil
        }
    }

    /// The value of each byte as a lowercase hex digit, or 0xF0 for any other byte.
    @usableFromInline
    struct NibbleTable: @unchecked Sendable {
        @usableFromInline let table: UnsafeMutablePointer<UInt8>

        init() {
            table = .allocate(capacity: 256)  // lives as long as the process
            for c in 0..<256 { table[c] = Hex.lowerNibble(UInt8(c)) ?? 0xF0 }
        }
    }

    @usableFromInline
    static let nibbles = NibbleTable()

    /// Decodes hex of either case; for test vectors and configuration, not for protocol input.
    public static func decode(_ string: String) -> [UInt8]? {
        let chars = Array(string.lowercased().utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = lowerNibble(chars[i]), let lo = lowerNibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
