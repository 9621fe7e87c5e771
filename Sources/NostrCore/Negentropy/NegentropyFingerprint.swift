extension Negentropy {
    /// The digest of a range: the ids added as 256-bit little-endian numbers modulo 2²⁵⁶, the
    /// count appended as a varint, hashed with SHA-256, the first 16 bytes kept.
    public struct Accumulator: Sendable {
        /// The sum's 64-bit limbs, least significant first.
        private var limbs: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        public private(set) var count: UInt64 = 0

        public init() {}

        /// Adds an id. `Bytes32` holds its bytes as big-endian words, so the little-endian limbs
        /// are those words byte-swapped.
        @inline(__always)
        public mutating func add(_ id: Bytes32) {
            var carry = false
            (limbs.0, carry) = limbs.0.addingReportingOverflow(id.w0.byteSwapped)
            limbs.1 = Self.add(limbs.1, id.w1.byteSwapped, &carry)
            limbs.2 = Self.add(limbs.2, id.w2.byteSwapped, &carry)
            limbs.3 = Self.add(limbs.3, id.w3.byteSwapped, &carry)  // the last carry falls off: mod 2²⁵⁶
            count += 1
        }

        @inline(__always)
        private static func add(_ a: UInt64, _ b: UInt64, _ carry: inout Bool) -> UInt64 {
            let (s1, o1) = a.addingReportingOverflow(b)
            let (s2, o2) = s1.addingReportingOverflow(carry ? 1 : 0)
            carry = o1 || o2
            return s2
        }

        /// The sum's 32 bytes, little-endian.
        public var sum: [UInt8] {
            Bytes32(
                w0: limbs.0.byteSwapped, w1: limbs.1.byteSwapped, w2: limbs.2.byteSwapped,
                w3: limbs.3.byteSwapped
            ).bytes
        }

        /// The 16-byte fingerprint.
        public var fingerprint: [UInt8] {
            var input = sum
            Negentropy.appendVarint(count, to: &input)
            return Array(EventID.sha256(input).bytes.prefix(16))
        }
    }
}
