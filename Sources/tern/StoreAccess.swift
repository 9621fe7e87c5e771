import ArgumentParser
import Logging
import NostrCore
import NostrStore

/// `--data` and `--config` of the store tools (`import`, `export`, `scan`, `delete`, `stats`,
/// `compact`): the same settings `serve` reads, so a tool opens the store a relay runs on with
/// the same map size. A relay may be serving from it meanwhile.
struct StoreAccess: ParsableArguments {
    @Option(name: .long, help: "Data directory of the LMDB store (default ./tern-data, or server.data).")
    var data: String?

    @Option(name: .long, help: "TOML configuration file (for server.data and store settings).")
    var config: String?

    func configuration() throws -> Configuration {
        var configuration = Configuration()
        do {
            if let config { try configuration.apply(tomlFile: config) }
            try configuration.apply(environment: Serve.environment())
            if let data { try configuration.set("server.data", data) }
        } catch {
            throw ValidationError(error.description)
        }
        return configuration
    }

    /// The store in LMDB alone, holding every event acknowledged so far: a relay serving from
    /// the same directory is asked to checkpoint its log first (or, with none running, the log
    /// is replayed here). What the relay takes in meanwhile reaches LMDB at its next checkpoint.
    func open() throws -> EventStore {
        let configuration = try configuration()
        do {
            return try EventStore.openCaughtUp(
                path: configuration.dataDirectory, options: configuration.toolStoreOptions,
                logger: Logger(label: "tern"))
        } catch {
            throw ToolError("cannot open the store at \(configuration.dataDirectory): \(error)")
        }
    }
}

/// A filter given on the command line as one JSON object (NIP-01's filter), read the way a REQ's
/// filter is.
func parseFilter(_ text: String) throws -> Filter {
    let message = Array(#"["REQ","tool","#.utf8) + Array(text.utf8) + Array("]".utf8)
    let limits = ParseLimits(maxFilters: 1, maxFilterValues: 1 << 20, maxLimit: Int.max)
    let parsed: ClientMessage
    do {
        parsed = try ClientMessage.parse(message, limits: limits)
    } catch {
        switch error {
        case .invalidFilter(_, let rejection), .invalidNegentropy(_, let rejection):
            throw ToolError("bad filter: \(rejection.detail)")
        case .malformed(let why), .invalidEvent(_, let why): throw ToolError("bad filter: \(why)")
        }
    }
    guard case .req(_, let filters) = parsed, filters.count == 1 else {
        throw ToolError(#"the filter must be one JSON object, like {"kinds":[1]}"#)
    }
    return filters[0]
}

/// A tool's failure, said in one line on standard error (exit status 1).
struct ToolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
