import CSecp256k1
import NostrCore

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
