import CompressNIO
import NIOCore
import NIOHTTP1
import NostrCore
import RelayClient
import RelayCore
import RelayServer

/// The relay's side inputs, from the same bytes: JSON documents (NIP-86 requests, plugin answers,
/// the stored NIP-86 lists), base64, NIP-50's words, and a NIP-98 `Authorization` header. Nothing may crash, and
/// what parses must survive a round trip.
enum SideInputTarget {
    static let httpAuth = HTTPAuth(relayURL: "", validation: ValidationService(limits: Limits()))
    nonisolated(unsafe) static let inflater = try! ZlibDecompressor(algorithm: .deflate, windowSize: 15)

    static func run(_ bytes: UnsafeBufferPointer<UInt8>) {
        let array = Array(bytes)
        if let value = try? JSONValue.parse(array) {
            guard let again = try? JSONValue.parse(value.bytes), again == value else {
                fatalError("JSONValue does not survive a round trip: \(value.text)")
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        // NIP-50's words: reading ASCII runs as bytes gives the words of reading every Character.
        var words: [[UInt8]] = []
        var reference: [[UInt8]] = []
        SearchText.forEachTokenBytes(text) { word in
            words.append(Array(word))
            return true
        }
        SearchText.forEachTokenByCharacter(text) { word in
            reference.append(Array(word))
            return true
        }
        guard words == reference else { fatalError("search words differ from the reference: \(text.debugDescription)") }
        if let decoded = Base64.decode(text) {
            guard Base64.decode(Base64.encode(decoded)) == decoded else { fatalError("base64 round trip: \(text)") }
        }
        // A relay's message as `tern sync` reads it; an EVENT's event goes through the intake.
        if case .event(_, let received) = RelayReply.read(bytes) {
            var intake = EventIntake(wanted: [], now: 1_700_000_000)
            if case .success(let event) = received { intake = EventIntake(wanted: [event.id], now: 1_700_000_000) }
            _ = intake.take(received)
        }
        // An import's line: what reads as an event writes back as the same event.
        if case .success(let event) = EventReader.read(bytes) {
            guard case .success(let again) = event.jsonBytes.withUnsafeBufferPointer({ EventReader.read($0) }),
                again.id == event.id, again.content == event.content, again.tags == event.tags
            else { fatalError("an imported event does not survive a round trip: \(text)") }
        }
        // A client's permessage-deflate offer, and a compressed message: bounded whatever it is.
        _ = DeflateParameters.negotiate(
            HTTPHeaders([("Sec-WebSocket-Extensions", text)]), settings: CompressionSettings())
        var compressed = ByteBuffer(bytes: array)
        if case .success(let out) = MessageInflater.inflate(
            &compressed, with: inflater, max: 4096, allocator: ByteBufferAllocator()),
            out.readableBytes > 4096
        {
            fatalError("inflated past the limit")
        }
        let request = HTTPAuth.Request(method: "POST", host: "127.0.0.1", authorization: "Nostr " + text, body: array)
        if case .success = httpAuth.verify(request, now: 1_700_000_000) {
            fatalError("an unsigned header was accepted: \(text)")
        }
    }
}
