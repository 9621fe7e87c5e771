import NostrCore

/// NIP-19 keys: bech32 (BIP-173) with the human-readable part "npub" (a public key) or "nsec"
/// (a secret key) and 32 bytes of data. Only decoding, for keys an operator writes in the
/// configuration or gives `tern admin`.
enum NPub {
    static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)

    static func decode(_ text: String) -> Bytes32? { decode(text, hrp: "npub") }

    static func decode(_ text: String, hrp: String) -> Bytes32? {
        let lower = text.lowercased()
        guard lower.hasPrefix(hrp + "1"), lower == text || text.uppercased() == text else { return nil }
        var values: [UInt8] = []
        for c in lower.utf8.dropFirst(hrp.utf8.count + 1) {
            guard let v = charset.firstIndex(of: c) else { return nil }
            values.append(UInt8(v))
        }
        guard values.count == 52 + 6, verifyChecksum(hrp: hrp, values) else { return nil }
        // 5-bit groups to bytes.
        var bytes: [UInt8] = []
        var accumulator: UInt32 = 0
        var bits = 0
        for v in values.dropLast(6) {
            accumulator = (accumulator << 5) | UInt32(v)
            bits += 5
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8((accumulator >> UInt32(bits)) & 0xFF))
            }
        }
        // 52 groups hold 260 bits: 32 bytes and 4 padding bits, which must be zero.
        guard bits == 4, accumulator & 0xF == 0 else { return nil }
        return Bytes32(bytes)
    }

    static func polymod(_ values: [UInt8]) -> UInt32 {
        let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var chk: UInt32 = 1
        for v in values {
            let top = chk >> 25
            chk = (chk & 0x1ff_ffff) << 5 ^ UInt32(v)
            for i in 0..<5 where (top >> UInt32(i)) & 1 == 1 { chk ^= generator[i] }
        }
        return chk
    }

    static func verifyChecksum(hrp: String, _ values: [UInt8]) -> Bool {
        let h = Array(hrp.utf8)
        let expanded = h.map { $0 >> 5 } + [0] + h.map { $0 & 31 }
        return polymod(expanded + values) == 1
    }
}
