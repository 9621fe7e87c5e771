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
}

/// A secret key that signs events; used by tests and the `tern bench` load generator.
public final class Signer: @unchecked Sendable {
    private let context: OpaquePointer
    private var keypair = secp256k1_keypair()
    public let publicKey: Bytes32

    /// `secretKey` must be 32 bytes and a valid secp256k1 scalar.
    public init?(secretKey: [UInt8]) {
        guard secretKey.count == 32, let ctx = secp256k1_context_create(UInt32(SECP256K1_CONTEXT_NONE)) else {
            return nil
        }
        context = ctx
        guard secp256k1_keypair_create(ctx, &keypair, secretKey) == 1 else {
            secp256k1_context_destroy(ctx)
            return nil
        }
        var xonly = secp256k1_xonly_pubkey()
        var parity: Int32 = 0
        _ = secp256k1_keypair_xonly_pub(ctx, &xonly, &parity, &keypair)
        var out = [UInt8](repeating: 0, count: 32)
        secp256k1_xonly_pubkey_serialize(ctx, &out, &xonly)
        publicKey = Bytes32(out)!
    }

    /// A signer for a key derived from `seed` (deterministic, for tests and benchmarks).
    public convenience init(seed: UInt64) {
        var material: [UInt8] = []
        withUnsafeBytes(of: seed.bigEndian) { material.append(contentsOf: $0) }
        let key = EventID.sha256(material).bytes
        self.init(secretKey: key)!
    }

    deinit { secp256k1_context_destroy(context) }

    /// BIP-340 signature of a 32-byte message, with `auxRandom` as the auxiliary randomness.
    public func sign(_ message: Bytes32, auxRandom: Bytes32 = .zero) -> Signature64 {
        var sig = [UInt8](repeating: 0, count: 64)
        let msg = message.bytes
        let aux = auxRandom.bytes
        _ = secp256k1_schnorrsig_sign32(context, &sig, msg, &keypair, aux)
        return sig.withUnsafeBytes {
            Signature64(
                r: Bytes32(bytes: UnsafeRawBufferPointer(rebasing: $0[0..<32])),
                s: Bytes32(bytes: UnsafeRawBufferPointer(rebasing: $0[32..<64])))
        }
    }

    /// Builds and signs an event with the given fields.
    public func event(kind: UInt16, content: String, tags: Tags = [], createdAt: Int64) -> Event {
        var event = Event(
            id: .zero, pubkey: publicKey, createdAt: createdAt, kind: kind, tags: tags, content: content,
            sig: Signature64(r: .zero, s: .zero))
        event.id = EventID.compute(event)
        event.sig = sign(event.id)
        return event
    }
}
