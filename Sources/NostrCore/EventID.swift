import CLibCrypto

/// Computes event ids: SHA-256 of the canonical serialization (NIP-01), with OpenSSL's libcrypto.
public enum EventID {
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> Bytes32 {
        var context = SHA256_CTX()
        var digest: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        SHA256_Init(&context)
        if let base = bytes.baseAddress, !bytes.isEmpty { SHA256_Update(&context, base, bytes.count) }
        return withUnsafeMutableBytes(of: &digest) {
            _ = SHA256_Final($0.baseAddress!.assumingMemoryBound(to: UInt8.self), &context)
            return Bytes32(bytes: UnsafeRawBufferPointer($0))
        }
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
