/// The pieces of negentropy protocol version 1 (NIP-77's wire format): items, bounds,
/// varints, and the reader and writer of messages, whose timestamps are encoded as offsets from
/// the previous one in the same message.
public enum Negentropy {
    /// Protocol version 1.
    public static let protocolVersion: UInt8 = 0x61
    /// The reserved timestamp that stands for "infinity".
    public static let infinity = UInt64.max

    /// What a range's payload is.
    public enum Mode: UInt64, Sendable {
        case skip = 0
        case fingerprint = 1
        case idList = 2
    }

    /// One record: a timestamp (an event's `created_at`) and a 32-byte id.
    public struct Item: Comparable, Hashable, Sendable {
        public let timestamp: UInt64
        public let id: Bytes32

        public init(timestamp: UInt64, id: Bytes32) {
            self.timestamp = timestamp
            self.id = id
        }

        /// Oldest first, ties by lowest id.
        public static func < (a: Item, b: Item) -> Bool {
            a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.id < b.id
        }
    }

    /// A range's exclusive upper bound: a timestamp and an id prefix of `length` bytes, the
    /// omitted bytes taken as zeros (`id` holds them so).
    public struct Bound: Equatable, Sendable {
        public let timestamp: UInt64
        public let id: Bytes32
        public let length: Int

        public init(timestamp: UInt64, prefix: [UInt8] = []) {
            precondition(prefix.count <= 32)
            var padded = [UInt8](repeating: 0, count: 32)
            padded.replaceSubrange(0..<prefix.count, with: prefix)
            self.timestamp = timestamp
            self.id = Bytes32(padded)!
            self.length = prefix.count
        }

        public static let infinity = Bound(timestamp: Negentropy.infinity)

        /// Whether `item` lies below this bound.
        @inline(__always)
        func isAbove(_ item: Item) -> Bool {
            item.timestamp != timestamp ? item.timestamp < timestamp : item.id < id
        }

        /// The shortest bound above `previous` and at or below `next` (`next` sorts after it).
        static func between(_ previous: Item, _ next: Item) -> Bound {
            if previous.timestamp != next.timestamp { return Bound(timestamp: next.timestamp) }
            let a = previous.id.bytes
            let b = next.id.bytes
            var shared = 0
            while shared < 32 && a[shared] == b[shared] { shared += 1 }
            return Bound(timestamp: next.timestamp, prefix: Array(b[0..<min(32, shared + 1)]))
        }
    }

    /// Why a message could not be read.
    public struct Malformed: Error, Equatable, Sendable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// Appends `value` as a varint: base-128 digits, most significant first, the high bit set
    /// on every byte but the last.
    public static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var digits = 1
        var rest = value >> 7
        while rest != 0 {
            digits += 1
            rest >>= 7
        }
        for i in stride(from: digits - 1, through: 0, by: -1) {
            let digit = UInt8(truncatingIfNeeded: value >> (7 * UInt64(i))) & 0x7F
            out.append(i == 0 ? digit : digit | 0x80)
        }
    }
}

/// Reads one message's ranges; timestamps are offsets from the previous one read.
struct NegentropyReader {
    let bytes: [UInt8]
    private(set) var position: Int
    private var lastTimestamp: UInt64 = 0

    init(_ bytes: [UInt8], from position: Int) {
        self.bytes = bytes
        self.position = position
    }

    var atEnd: Bool { position >= bytes.count }

    mutating func varint() throws(Negentropy.Malformed) -> UInt64 {
        var value: UInt64 = 0
        while true {
            guard position < bytes.count else { throw Negentropy.Malformed("truncated varint") }
            let byte = bytes[position]
            position += 1
            guard value >> 57 == 0 else { throw Negentropy.Malformed("varint too large") }
            value = value << 7 | UInt64(byte & 0x7F)
            if byte & 0x80 == 0 { return value }
        }
    }

    mutating func take(_ count: Int) throws(Negentropy.Malformed) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - position >= count else { throw Negentropy.Malformed("truncated message") }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    mutating func id() throws(Negentropy.Malformed) -> Bytes32 {
        Bytes32(Array(try take(32)))!
    }

    mutating func timestamp() throws(Negentropy.Malformed) -> UInt64 {
        let encoded = try varint()
        if encoded == 0 || lastTimestamp == Negentropy.infinity {
            lastTimestamp = Negentropy.infinity
            return Negentropy.infinity
        }
        let (sum, overflow) = lastTimestamp.addingReportingOverflow(encoded - 1)
        guard !overflow, sum != Negentropy.infinity else { throw Negentropy.Malformed("timestamp out of range") }
        lastTimestamp = sum
        return sum
    }

    mutating func bound() throws(Negentropy.Malformed) -> Negentropy.Bound {
        let timestamp = try timestamp()
        let length = try varint()
        guard length <= 32 else { throw Negentropy.Malformed("bound prefix longer than 32 bytes") }
        return Negentropy.Bound(timestamp: timestamp, prefix: Array(try take(Int(length))))
    }

    mutating func mode() throws(Negentropy.Malformed) -> Negentropy.Mode {
        guard let mode = Negentropy.Mode(rawValue: try varint()) else {
            throw Negentropy.Malformed("unknown range mode")
        }
        return mode
    }
}

/// Writes ranges; timestamps are offsets from the previous one written.
struct NegentropyWriter {
    var bytes: [UInt8] = []
    private var lastTimestamp: UInt64 = 0

    mutating func bound(_ bound: Negentropy.Bound) {
        if bound.timestamp == Negentropy.infinity {
            lastTimestamp = Negentropy.infinity
            Negentropy.appendVarint(0, to: &bytes)
        } else {
            Negentropy.appendVarint(bound.timestamp - lastTimestamp + 1, to: &bytes)
            lastTimestamp = bound.timestamp
        }
        Negentropy.appendVarint(UInt64(bound.length), to: &bytes)
        bound.id.withBytes { bytes.append(contentsOf: $0.prefix(bound.length)) }
    }

    mutating func mode(_ mode: Negentropy.Mode) {
        Negentropy.appendVarint(mode.rawValue, to: &bytes)
    }
}
