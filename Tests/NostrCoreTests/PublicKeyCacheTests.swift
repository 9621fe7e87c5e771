import NostrCore
import NostrTools
import XCTest

/// Verifying with authors' keys parsed once (imports) answers exactly as verifying afresh.
final class PublicKeyCacheTests: XCTestCase {
    func testCachedVerificationAgreesWithUncached() throws {
        var cache = Schnorr.PublicKeyCache(capacity: 2)
        let signers = (0..<3).map { Signer(seed: 40 + UInt64($0)) }
        for round in 0..<3 {
            for (n, signer) in signers.enumerated() {
                let good = signer.event(kind: 1, content: "round \(round) \(n)", createdAt: 1_700_000_000)
                XCTAssertTrue(Schnorr.verify(good, cache: &cache))
                // Another author's signature under this author's key: refused, cached key or not.
                let other = signers[(n + 1) % signers.count].event(kind: 1, content: "x", createdAt: 1_700_000_000)
                let forged = Event(
                    id: good.id, pubkey: good.pubkey, createdAt: good.createdAt, kind: good.kind, tags: good.tags,
                    content: good.content, sig: other.sig)
                XCTAssertFalse(Schnorr.verify(forged, cache: &cache))
                XCTAssertFalse(Schnorr.verify(forged))
            }
        }
        // A pubkey that is not on the curve never verifies.
        let good = signers[0].event(kind: 1, content: "y", createdAt: 1_700_000_000)
        let offCurve = Bytes32(w0: 0, w1: 0, w2: 0, w3: 5)
        let bad = Event(
            id: good.id, pubkey: offCurve, createdAt: good.createdAt, kind: good.kind, tags: good.tags,
            content: good.content, sig: good.sig)
        XCTAssertFalse(Schnorr.verify(bad, cache: &cache))
    }
}
