import Crypto

/// Computes event ids: SHA-256 of the canonical serialization (NIP-01).
public enum EventID {
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> Bytes32 {
        var hasher = SHA256()
        hasher.update(bufferPointer: bytes)
        let digest = hasher.finalize()
        return digest.withUnsafeBytes { Bytes32(bytes: $0) }
    }

    public static func sha256(_ bytes: [UInt8]) -> Bytes32 {
        bytes.withUnsafeBytes { sha256($0) }
    }

    /// The id the event's fields hash to. `scratch` is reused between calls to avoid allocations.
    public static func compute(_ event: Event, scratch: inout [UInt8]) -> Bytes32 {
        scratch.removeAll(keepingCapacity: true)
        event.appendCanonical(to: &scratch)
        return scratch.withUnsafeBytes { sha256($0) }
    }

    public static func compute(_ event: Event) -> Bytes32 {
        var scratch: [UInt8] = []
        return compute(event, scratch: &scratch)
    }
}
