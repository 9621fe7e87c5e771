import CSecp256k1

/// BIP-340 Schnorr signatures through libsecp256k1.
public enum Schnorr {
    /// One context for all verifications: libsecp256k1 contexts are read-only after creation
    /// and safe to share between threads for verifying.
    nonisolated(unsafe) static let context: OpaquePointer = secp256k1_context_create(UInt32(SECP256K1_CONTEXT_NONE))!

    /// Verifies `signature` over `message` (any length, as BIP-340 allows) by x-only `publicKey`.
    public static func verify(signature: Signature64, message: UnsafeRawBufferPointer, publicKey: Bytes32) -> Bool {
        publicKey.withBytes { pk in
            var xonly = secp256k1_xonly_pubkey()
            guard
                secp256k1_xonly_pubkey_parse(
                    context, &xonly, pk.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 1
            else { return false }
            var sig = (
                signature.r.w0.bigEndian, signature.r.w1.bigEndian, signature.r.w2.bigEndian,
                signature.r.w3.bigEndian, signature.s.w0.bigEndian, signature.s.w1.bigEndian,
                signature.s.w2.bigEndian, signature.s.w3.bigEndian
            )
            return withUnsafeBytes(of: &sig) { sigBytes in
                let msgPtr = message.baseAddress?.assumingMemoryBound(to: UInt8.self)
                var empty: UInt8 = 0
                return withUnsafePointer(to: &empty) { emptyPtr in
                    secp256k1_schnorrsig_verify(
                        context, sigBytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        msgPtr ?? emptyPtr, message.count, &xonly) == 1
                }
            }
        }
    }

    public static func verify(signature: Signature64, message: [UInt8], publicKey: Bytes32) -> Bool {
        message.withUnsafeBytes { verify(signature: signature, message: $0, publicKey: publicKey) }
    }

    /// Verifies an event's signature over its id.
    public static func verify(_ event: Event) -> Bool {
        event.id.withBytes { verify(signature: event.sig, message: $0, publicKey: event.pubkey) }
    }

    /// Verifies an event's signature over its id, with the author's key parsed once per `cache`
    /// (parsing an x-only key takes a square root: a tenth of a verification).
    public static func verify(_ event: Event, cache: inout PublicKeyCache) -> Bool {
        guard var xonly = cache.parsed(event.pubkey) else { return false }
        var sig = (
            event.sig.r.w0.bigEndian, event.sig.r.w1.bigEndian, event.sig.r.w2.bigEndian, event.sig.r.w3.bigEndian,
            event.sig.s.w0.bigEndian, event.sig.s.w1.bigEndian, event.sig.s.w2.bigEndian, event.sig.s.w3.bigEndian
        )
        return event.id.withBytes { message in
            withUnsafeBytes(of: &sig) { sigBytes in
                secp256k1_schnorrsig_verify(
                    context, sigBytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    message.baseAddress!.assumingMemoryBound(to: UInt8.self), 32, &xonly) == 1
            }
        }
    }

    /// Parsed x-only public keys by their bytes, for one thread's verifications (an import
    /// sees each author many times). Bounded: it starts over when full.
    public struct PublicKeyCache {
        private var keys: [Bytes32: secp256k1_xonly_pubkey] = [:]
        private let capacity: Int

        public init(capacity: Int = 8192) {
            self.capacity = capacity
        }

        mutating func parsed(_ publicKey: Bytes32) -> secp256k1_xonly_pubkey? {
            if let known = keys[publicKey] { return known }
            var xonly = secp256k1_xonly_pubkey()
            let ok = publicKey.withBytes { pk in
                secp256k1_xonly_pubkey_parse(context, &xonly, pk.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 1
            }
            guard ok else { return nil }
            if keys.count >= capacity { keys.removeAll(keepingCapacity: true) }
            keys[publicKey] = xonly
            return xonly
        }
    }
}
