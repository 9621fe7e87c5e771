/// NIP-45's HyperLogLog: 256 one-byte registers over the counted events' pubkeys, so that
/// clients can merge counts from several relays. The filter decides which byte of the pubkey
/// picks the register (`offset`); the register keeps the largest count of leading zero bits
/// after it, plus one.
public struct HyperLogLog: Sendable, Equatable {
    public let offset: Int
    public private(set) var registers: [UInt8]

    public init(offset: Int) {
        precondition((8...23).contains(offset))
        self.offset = offset
        registers = [UInt8](repeating: 0, count: 256)
    }

    /// The common queries NIP-45 names, the only ones answered with registers: one tag
    /// condition of one value and these kinds, nothing else.
    static let eligible: [(tag: UInt8, kinds: [UInt16])] = [
        (UInt8(ascii: "e"), [7]),  // reactions
        (UInt8(ascii: "e"), [6]),  // reposts
        (UInt8(ascii: "q"), [1, 1111]),  // quotes
        (UInt8(ascii: "e"), [1]),  // replies
        (UInt8(ascii: "E"), [1111]),  // comments
        (UInt8(ascii: "p"), [3]),  // followers
    ]

    /// The offset for `filter`, or nil when it is not one of the common queries.
    public static func offset(for filter: Filter) -> Int? {
        guard filter.ids == nil, filter.authors == nil, filter.since == nil, filter.until == nil,
            let kinds = filter.kinds, filter.tags.count == 1, filter.tags[0].values.count == 1,
            let value = filter.tags[0].values.first
        else { return nil }
        let name = filter.tags[0].name
        guard eligible.contains(where: { $0.tag == name && $0.kinds == kinds }) else { return nil }
        return offset(forValue: value)
    }

    /// Steps 3 to 6 of NIP-45's offset: a 64-character hex string from the tag value (itself
    /// when it is an id or pubkey, the pubkey of an address, else its SHA-256), its character
    /// at position 32 read as a hex digit, plus 8.
    public static func offset(forValue value: String) -> Int {
        var hex = Array(value.utf8)
        if !isHex64(hex) {
            let parts = value.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            if parts.count == 3, UInt16(parts[0]) != nil, isHex64(Array(parts[1].utf8)) {
                hex = Array(parts[1].utf8)
            } else {
                hex = Array(EventID.sha256(Array(value.utf8)).hex.utf8)
            }
        }
        return Int(Hex.lowerNibble(hex[32]) ?? 0) + 8
    }

    private static func isHex64(_ bytes: [UInt8]) -> Bool {
        bytes.count == 64 && bytes.allSatisfy { Hex.lowerNibble($0) != nil }
    }

    /// Counts one event by its author.
    public mutating func add(_ pubkey: Bytes32) {
        pubkey.withBytes { bytes in
            let register = Int(bytes[offset])
            var zeros = 0
            var i = offset + 1
            while i < 32 && bytes[i] == 0 {
                zeros += 8
                i += 1
            }
            if i < 32 { zeros += bytes[i].leadingZeroBitCount }
            let rank = UInt8(zeros + 1)
            if rank > registers[register] { registers[register] = rank }
        }
    }

    /// The 512-character hex string of the registers.
    public var hex: String { Hex.encode(registers) }
}
