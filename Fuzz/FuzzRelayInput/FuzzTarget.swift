import NostrCore
import NostrTools

/// Feeds arbitrary bytes to the client-message parser and, for what parses, to id hashing and
/// filter matching; and, read as structured choices, to `MatchingTarget`. Nothing here may
/// crash, hang or allocate without bound.
enum FuzzTarget {
    static let events: [Event] = {
        let signer = Signer(seed: 1)
        return [
            signer.event(
                kind: 1, content: "hello", tags: [["t", "nostr"], ["e", String(repeating: "a", count: 64)]],
                createdAt: 1_700_000_000),
            signer.event(kind: 30023, content: "", tags: [["d", "x"]], createdAt: 5),
            signer.event(kind: 0, content: "{}", createdAt: 0),
        ]
    }()

    /// Every input goes four ways: as a client message, as the choices of the structured
    /// filter-matching target, as the relay's side inputs (JSON, base64, NIP-98), and as a
    /// segment of the event log.
    static func run(_ bytes: UnsafeBufferPointer<UInt8>) {
        parse(bytes)
        MatchingTarget.run(bytes)
        SideInputTarget.run(bytes)
        LogTarget.run(bytes)
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) {
        _ = EventHead.decode(json: bytes)
        guard let message = try? ClientMessage.parse(bytes) else { return }
        switch message {
        case .event(let event), .auth(let event):
            var scratch: [UInt8] = []
            _ = EventID.compute(event, scratch: &scratch)
            let json = event.jsonBytes
            _ = Event.decode(json: json)
            // The store checks filters on the head it reads from this JSON: it must agree.
            let head = json.withUnsafeBufferPointer { EventHead.decode(json: $0) }
            var tags: [UInt8] = []
            JSONWriter.appendTags(event.tags, to: &tags, mode: .output)
            guard let head, head.id == event.id, head.pubkey == event.pubkey, head.createdAt == event.createdAt,
                head.kind == event.kind,
                json[head.tags].elementsEqual(tags)
            else { fatalError("EventHead disagrees with the event: \(event.json)") }
        case .req(_, let filters), .count(_, let filters):
            for event in events { _ = filters.anyMatches(event) }
            if filters.count == 1, let offset = HyperLogLog.offset(for: filters[0]) {
                var hll = HyperLogLog(offset: offset)
                for event in events { hll.add(event.pubkey) }
            }
        case .negOpen(_, _, let message), .negMsg(_, let message):
            negentropy(message)
        case .close, .negClose:
            break
        }
        // The bytes themselves as a negentropy message (NIP-77's payload, after the hex).
        negentropy([Negentropy.protocolVersion] + Array(bytes))
    }

    /// A server over a fixed set of items answers any message without crashing, within its
    /// frame size limit, or refuses it.
    static let reconciliation: NegentropySession = {
        var rng = SplitMix64(seed: 5)
        let items = (0..<300).map { i in
            Negentropy.Item(
                timestamp: UInt64(1_700_000_000 + i / 4),
                id: Bytes32(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next()))
        }
        return NegentropySession(items: items, frameSizeLimit: 4096)
    }()

    static func negentropy(_ message: [UInt8]) {
        guard let answer = try? reconciliation.respond(to: message) else { return }
        guard answer.first == Negentropy.protocolVersion, answer.count <= 4096 else {
            fatalError("negentropy answer out of bounds: \(answer.count) bytes")
        }
    }
}

#if FUZZING
    /// libFuzzer's driver (from the runtime that `-sanitize=fuzzer` links).
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    /// SwiftPM links an executable's `main` to `<module>_main`: start libFuzzer from there.
    @_cdecl("FuzzRelayInput_main")
    func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        var count = argc
        var arguments = argv
        return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
            if let data { FuzzTarget.run(UnsafeBufferPointer(start: data, count: size)) }
            return 0
        }
    }
#endif
