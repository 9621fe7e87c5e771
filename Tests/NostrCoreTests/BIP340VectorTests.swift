import NostrCore
import NostrTools
import XCTest

/// The BIP-340 test vectors from ../shared/testdata, run through libsecp256k1.
final class BIP340VectorTests: XCTestCase {
    struct Vector {
        let index: Int
        let secretKey: [UInt8]?
        let publicKey: [UInt8]
        let auxRand: [UInt8]?
        let message: [UInt8]
        let signature: [UInt8]
        let valid: Bool
    }

    static func vectors() throws -> [Vector] {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/testdata/bip340-test-vectors.csv")
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return Vector(
                index: Int(f[0])!, secretKey: f[1].isEmpty ? nil : Hex.decode(f[1]), publicKey: Hex.decode(f[2])!,
                auxRand: f[3].isEmpty ? nil : Hex.decode(f[3]), message: Hex.decode(f[4])!,
                signature: Hex.decode(f[5])!, valid: f[6] == "TRUE")
        }
    }

    func testVerificationMatchesEveryVector() throws {
        let vectors = try Self.vectors()
        XCTAssertGreaterThanOrEqual(vectors.count, 15)
        for v in vectors {
            let sig = Signature64(r: Bytes32(Array(v.signature[0..<32]))!, s: Bytes32(Array(v.signature[32..<64]))!)
            let ok = Schnorr.verify(signature: sig, message: v.message, publicKey: Bytes32(v.publicKey)!)
            XCTAssertEqual(ok, v.valid, "vector \(v.index)")
        }
    }

    func testSigningReproducesVectorSignatures() throws {
        var signed = 0
        for v in try Self.vectors() where v.secretKey != nil && v.message.count == 32 {
            let signer = try XCTUnwrap(Signer(secretKey: v.secretKey!))
            XCTAssertEqual(signer.publicKey.bytes, v.publicKey, "vector \(v.index)")
            let sig = signer.sign(Bytes32(v.message)!, auxRandom: Bytes32(v.auxRand!)!)
            XCTAssertEqual(sig.bytes, v.signature, "vector \(v.index)")
            signed += 1
        }
        XCTAssertGreaterThanOrEqual(signed, 4)
    }
}
