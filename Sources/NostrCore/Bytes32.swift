/// A 32-byte value (event id, public key) stored as four big-endian words, so that comparing
/// the words compares the bytes in lexical order. Hashing and equality never allocate.
public struct Bytes32: Hashable, Comparable, Sendable {
    public var w0: UInt64
    public var w1: UInt64
    public var w2: UInt64
    public var w3: UInt64

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0
        self.w1 = w1
        self.w2 = w2
        self.w3 = w3
    }

    public static let zero = Bytes32(w0: 0, w1: 0, w2: 0, w3: 0)

    /// Reads 32 bytes from `bytes` (must hold at least 32).
    @inlinable
    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= 32)
        w0 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    public init?(_ array: [UInt8]) {
        guard array.count == 32 else { return nil }
        self = array.withUnsafeBytes { Bytes32(bytes: $0) }
    }

    /// Parses exactly 64 lowercase hex characters. Inlinable, so that callers in other modules
    /// get a specialized copy (the unspecialized generic allocated twice per character).
    /// Contiguous bytes (stored JSON, message buffers) take a table-driven path without a branch
    /// per character; stored events' ids and pubkeys are read this way for every query candidate.
    @inlinable
    public init?(hex: some Collection<UInt8>) {
        guard hex.count == 64 else { return nil }
        if let fast = hex.withContiguousStorageIfAvailable({ Bytes32(hex64: $0) }) {
            guard let value = fast else { return nil }
            self = value
            return
        }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var index = hex.startIndex
        for wordIndex in 0..<4 {
            var word: UInt64 = 0
            for _ in 0..<16 {
                guard let nibble = Hex.lowerNibble(hex[index]) else { return nil }
                word = (word << 4) | UInt64(nibble)
                index = hex.index(after: index)
            }
            switch wordIndex {
            case 0: words.0 = word
            case 1: words.1 = word
            case 2: words.2 = word
            default: words.3 = word
            }
        }
        self.init(w0: words.0, w1: words.1, w2: words.2, w3: words.3)
    }

    /// 64 lowercase hex characters: each looked up in `Hex.nibbles` (invalid ones have a high
    /// bit set, collected in one mask and checked once at the end).
    @inlinable
    init?(hex64 hex: UnsafeBufferPointer<UInt8>) {
        guard hex.count == 64, let base = hex.baseAddress else { return nil }
        var bad: UInt8 = 0
        @inline(__always)
        func word(_ offset: Int) -> UInt64 {
            var w: UInt64 = 0
            for i in 0..<16 {
                let n = Hex.nibbles.table[Int(base[offset + i])]
                bad |= n
                w = (w << 4) | UInt64(n & 0x0F)
            }
            return w
        }
        let w0 = word(0)
        let w1 = word(16)
        let w2 = word(32)
        let w3 = word(48)
        guard bad & 0xF0 == 0 else { return nil }
        self.init(w0: w0, w1: w1, w2: w2, w3: w3)
    }

    public init?(hex string: String) {
        var s = string
        guard let value = s.withUTF8({ Bytes32(hex: $0) }) else { return nil }
        self = value
    }

    /// Calls `body` with the 32 bytes in order.
    @inlinable
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var big = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)
        return try withUnsafeBytes(of: &big) { try body($0) }
    }

    public var bytes: [UInt8] { withBytes { Array($0) } }

    public var hex: String {
        String(unsafeUninitializedCapacity: 64) { buffer in
            writeHex(into: UnsafeMutableRawBufferPointer(buffer))
            return 64
        }
    }

    /// Writes 64 lowercase hex characters at the start of `out`.
    @inlinable
    public func writeHex(into out: UnsafeMutableRawBufferPointer) {
        Self.writeHex(w0, into: out, at: 0)
        Self.writeHex(w1, into: out, at: 16)
        Self.writeHex(w2, into: out, at: 32)
        Self.writeHex(w3, into: out, at: 48)
    }

    @inlinable
    static func writeHex(_ word: UInt64, into out: UnsafeMutableRawBufferPointer, at offset: Int) {
        var w = word
        var i = offset + 15
        while i >= offset {
            out[i] = Hex.digit(UInt8(truncatingIfNeeded: w & 0xF))
            w >>= 4
            i -= 1
        }
    }

    /// Appends 64 lowercase hex characters without a temporary allocation.
    public func appendHex(to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: 64))
        out.withUnsafeMutableBytes { raw in
            writeHex(into: UnsafeMutableRawBufferPointer(rebasing: raw[start..<(start + 64)]))
        }
    }

    public static func < (lhs: Bytes32, rhs: Bytes32) -> Bool {
        if lhs.w0 != rhs.w0 { return lhs.w0 < rhs.w0 }
        if lhs.w1 != rhs.w1 { return lhs.w1 < rhs.w1 }
        if lhs.w2 != rhs.w2 { return lhs.w2 < rhs.w2 }
        return lhs.w3 < rhs.w3
    }
}

extension Bytes32: CustomStringConvertible {
    public var description: String { hex }
}

/// A 64-byte BIP-340 signature.
public struct Signature64: Hashable, Sendable {
    public var r: Bytes32
    public var s: Bytes32

    public init(r: Bytes32, s: Bytes32) {
        self.r = r
        self.s = s
    }

    @inlinable
    public init?(hex: some Collection<UInt8>) {
        guard hex.count == 128 else { return nil }
        let mid = hex.index(hex.startIndex, offsetBy: 64)
        guard let r = Bytes32(hex: hex[hex.startIndex..<mid]), let s = Bytes32(hex: hex[mid...]) else {
            return nil
        }
        self.init(r: r, s: s)
    }

    public init?(hex string: String) {
        var s = string
        guard let value = s.withUTF8({ Signature64(hex: $0) }) else { return nil }
        self = value
    }

    public var bytes: [UInt8] { r.bytes + s.bytes }

    public var hex: String { r.hex + s.hex }

    public func appendHex(to out: inout [UInt8]) {
        r.appendHex(to: &out)
        s.appendHex(to: &out)
    }
}
