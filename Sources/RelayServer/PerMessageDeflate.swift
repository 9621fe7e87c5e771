import NIOHTTP1

/// permessage-deflate (RFC 7692): the operator's settings, and the negotiation of one
/// connection's parameters from the client's offers.
///
/// The relay always asks the client not to keep its compression context between messages
/// (`client_no_context_takeover`), so one inflater per event loop serves every connection. The
/// relay keeps its own context between messages only when the operator says so
/// (`contextTakeover`): messages then compress better, at the cost of a compressor per
/// connection (`memoryPerConnection`); otherwise one compressor per event loop serves every
/// connection, reset before each message, and a compressed connection costs no memory of its own.
public struct CompressionSettings: Sendable, Equatable {
    public var enabled = true
    /// The relay's LZ77 window, 2^bits bytes (9...15): with context takeover, the memory it costs
    /// each connection.
    public var windowBits = 15
    /// zlib's memory level (1...9): memory of the compressor's hash tables, 2^(level+9) bytes.
    public var memoryLevel = 8
    /// zlib's compression level (1 fastest ... 9 smallest).
    public var level = 6
    /// Keep the relay's compression context from message to message, per connection.
    public var contextTakeover = false
    /// Compressed connections at most; past it, connections run uncompressed.
    public var maxConnections = 1000
    /// Messages shorter than this go out uncompressed (RFC 7692 allows it per message).
    public var minimumSize = 128

    public init() {}

    /// The memory zlib takes for one compressor with these settings, in bytes (zlib's own formula:
    /// window and hash tables, plus its fixed state).
    public var compressorBytes: Int { (1 << (windowBits + 2)) + (1 << (memoryLevel + 9)) + 6 * 1024 }

    /// What each compressed connection costs beyond an uncompressed one.
    public var memoryPerConnection: Int { contextTakeover ? compressorBytes : 0 }
}

/// The parameters agreed with one client.
public struct DeflateParameters: Equatable, Sendable {
    /// The window the relay compresses with (≤ what the client allowed).
    let serverWindowBits: Int
    let serverContextTakeover: Bool

    /// The `Sec-WebSocket-Extensions` response value.
    public var responseHeader: String {
        var out = "permessage-deflate; client_no_context_takeover"
        if !serverContextTakeover { out += "; server_no_context_takeover" }
        if serverWindowBits < 15 { out += "; server_max_window_bits=\(serverWindowBits)" }
        return out
    }

    /// The first offer of `permessage-deflate` the relay can accept, in the request's headers;
    /// nil when there is none (the connection runs uncompressed).
    public static func negotiate(_ headers: HTTPHeaders, settings: CompressionSettings) -> DeflateParameters? {
        for header in headers["sec-websocket-extensions"] {
            for offer in header.split(separator: ",") {
                let parts = offer.split(separator: ";", omittingEmptySubsequences: false).map {
                    $0.filter { $0 != " " && $0 != "\t" }
                }
                guard parts.first?.lowercased() == "permessage-deflate" else { continue }
                if let agreed = accept(parts.dropFirst(), settings: settings) { return agreed }
            }
        }
        return nil
    }

    /// One offer's parameters, or nil when the relay cannot honour them (RFC 7692 §7.1).
    private static func accept(_ parameters: ArraySlice<String>, settings: CompressionSettings) -> DeflateParameters? {
        var windowBits = settings.windowBits
        var takeover = settings.contextTakeover
        var seen = Set<String>()
        for parameter in parameters {
            let pair = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            // An empty parameter (`;;`) or one without a name (`=5`): a bad offer.
            guard let first = pair.first, !first.isEmpty else { return nil }
            let name = first.lowercased()
            let value = pair.count == 2 ? String(pair[1]).filter { $0 != "\"" } : nil
            guard seen.insert(name).inserted else { return nil }  // a parameter twice: a bad offer
            switch name {
            case "server_no_context_takeover":
                guard value == nil else { return nil }
                takeover = false
            case "client_no_context_takeover":
                guard value == nil else { return nil }
            case "server_max_window_bits":
                // zlib cannot make a raw deflate stream with a 256-byte window: decline 8.
                guard let value, let bits = Int(value), (9...15).contains(bits) else { return nil }
                windowBits = min(windowBits, bits)
            case "client_max_window_bits":
                // The client may send with any window up to 15: the relay inflates with 15.
                if let value { guard let bits = Int(value), (8...15).contains(bits) else { return nil } }
            default:
                return nil
            }
        }
        return DeflateParameters(serverWindowBits: windowBits, serverContextTakeover: takeover)
    }
}
