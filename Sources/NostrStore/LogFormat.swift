import CZlib

/// The bytes of an append-only log segment: an 8-byte header (`TERNLOG1`), then records, each
/// `length` (4 bytes, little-endian), `crc` (4 bytes, little-endian: zlib's CRC-32 of the length
/// bytes and the payload) and `length` bytes of payload. A record is written whole by one
/// append and made durable by one `fdatasync`; a crash can leave the last one short or torn,
/// which `scan` finds: it reads up to the last record whose length and checksum hold.
public enum LogFormat {
    public static let header: [UInt8] = Array("TERNLOG1".utf8)
    /// A record's bytes before its payload.
    public static let recordHeaderSize = 8
    /// No record is longer: a longer length field is damage, not data.
    public static let maxPayload = 64 << 20

    /// Why a scan stopped before the end of the bytes.
    public enum Problem: Equatable, Sendable, CustomStringConvertible {
        /// The segment's first bytes are not the header.
        case badHeader
        /// A record's header or payload runs past the end (a write cut short).
        case shortRecord(at: Int)
        /// A record's length field is beyond `maxPayload`.
        case impossibleLength(at: Int)
        /// A record's checksum does not match its bytes.
        case badChecksum(at: Int)

        public var description: String {
            switch self {
            case .badHeader: return "not a tern log segment (bad header)"
            case .shortRecord(let at): return "a record at byte \(at) is cut short"
            case .impossibleLength(let at): return "a record at byte \(at) has an impossible length"
            case .badChecksum(let at): return "a record at byte \(at) fails its checksum"
            }
        }
    }

    /// What a scan found: each good record's payload range, in order; the end of the last good
    /// record (where a torn tail is cut off); and why it stopped early, if it did.
    public struct Scan: Sendable {
        public var payloads: [Range<Int>] = []
        public var end = 0
        public var problem: Problem?
    }

    /// Appends one record holding `payload` to `bytes`.
    public static func appendRecord(_ payload: UnsafeRawBufferPointer, to bytes: inout [UInt8]) {
        precondition(payload.count <= maxPayload, "a log record over the maximum")
        var length = UInt32(payload.count).littleEndian
        let lengthBytes = withUnsafeBytes(of: &length) { Array($0) }
        var crc = checksum(lengthBytes.withUnsafeBytes { $0 }, then: payload).littleEndian
        bytes += lengthBytes
        withUnsafeBytes(of: &crc) { bytes += $0 }
        bytes += payload
    }

    public static func appendRecord(_ payload: [UInt8], to bytes: inout [UInt8]) {
        payload.withUnsafeBytes { appendRecord($0, to: &bytes) }
    }

    /// Reads a segment's bytes (header included) up to the last good record.
    public static func scan(_ bytes: UnsafeRawBufferPointer) -> Scan {
        var result = Scan()
        guard bytes.count >= header.count, bytes.prefix(header.count).elementsEqual(header) else {
            result.problem = .badHeader
            return result
        }
        var at = header.count
        result.end = at
        while at < bytes.count {
            guard bytes.count - at >= recordHeaderSize else {
                result.problem = .shortRecord(at: at)
                return result
            }
            let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
            let crc = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self))
            guard length <= maxPayload else {
                result.problem = .impossibleLength(at: at)
                return result
            }
            let start = at + recordHeaderSize
            guard bytes.count - start >= length else {
                result.problem = .shortRecord(at: at)
                return result
            }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)])
            let lengthBytes = UnsafeRawBufferPointer(rebasing: bytes[at..<(at + 4)])
            guard checksum(lengthBytes, then: payload) == crc else {
                result.problem = .badChecksum(at: at)
                return result
            }
            result.payloads.append(start..<(start + length))
            at = start + length
            result.end = at
        }
        return result
    }

    public static func scan(_ bytes: [UInt8]) -> Scan { bytes.withUnsafeBytes { scan($0) } }

    /// zlib's CRC-32 of `first` followed by `second`.
    static func checksum(_ first: UnsafeRawBufferPointer, then second: UnsafeRawBufferPointer) -> UInt32 {
        var crc = crc32(0, nil, 0)
        for part in [first, second] where part.count > 0 {
            crc = crc32(crc, part.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(part.count))
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}
