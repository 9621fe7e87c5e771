import RelayCore

/// The page a browser gets at `/`: who the relay is, where to connect, its NIPs, and live
/// figures (connections, events stored, ingest and query rates, a chart of the last minutes).
/// One self-contained document: inline style and script, no fonts, images or other requests,
/// so it works offline behind any proxy. Without JavaScript the figures are those of the moment
/// the page was served; with it, they follow `/stats` every two seconds.
enum StatusPage {
    struct Figures {
        let connections: Int
        let events: Int
        let storeBytes: Int
    }

    static func render(info: RelayInfo, address: String, figures: Figures) -> String {
        let nips = RelayInfo.supportedNIPs.map { $0 < 10 ? "0\($0)" : "\($0)" }.joined(separator: ", ")
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <link rel="icon" href="data:,">
            <title>\(escape(info.name))</title>
            <style>
            body{font:15px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222;background:#fafafa}
            h1{margin:0 0 .2rem}code{background:#eee;padding:.1rem .3rem;border-radius:3px}
            .figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.6rem;margin:1.2rem 0}
            .figure{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem .7rem}
            .figure b{display:block;font-size:1.4rem}.figure span{color:#666;font-size:.85rem}
            svg{width:100%;height:120px;background:#fff;border:1px solid #ddd;border-radius:6px}
            .legend{color:#666;font-size:.85rem}.i{color:#1565c0}.q{color:#c62828}
            </style></head>
            <body>
            <h1>\(escape(info.name))</h1>
            <p>\(escape(info.description))</p>
            <p>Connect a Nostr client to <code>\(escape(address))</code>.</p>
            <div class="figures">
            <div class="figure"><b id="connections">\(figures.connections)</b><span>connections</span></div>
            <div class="figure"><b id="events">\(figures.events)</b><span>events stored</span></div>
            <div class="figure"><b id="ingest">-</b><span>events/s in</span></div>
            <div class="figure"><b id="queries">-</b><span>queries/s</span></div>
            <div class="figure"><b id="store">\(megabytes(figures.storeBytes))</b><span>MiB on disk</span></div>
            </div>
            <svg id="chart" viewBox="0 0 600 120" preserveAspectRatio="none" role="img" aria-label="ingest and query rates, last minutes">
            <polyline id="ingest-line" fill="none" stroke="#1565c0" stroke-width="2" points=""/>
            <polyline id="query-line" fill="none" stroke="#c62828" stroke-width="2" points=""/>
            </svg>
            <p class="legend"><span class="i">&#9632; events/s in</span> &nbsp; <span class="q">&#9632; queries/s</span> &nbsp; <span id="updated">last 10 minutes</span></p>
            <p>Supported NIPs: \(nips)</p>
            <p>Software: tern \(RelayInfo.version)</p>
            <script>
            "use strict";
            function show(id, text) { document.getElementById(id).textContent = text; }
            function line(id, history, column, top) {
              if (history.length < 2) { return; }
              var first = history[0][0], span = Math.max(1, history[history.length - 1][0] - first);
              var points = history.map(function (h) {
                return ((h[0] - first) / span * 600).toFixed(1) + "," + (115 - h[column] / top * 110).toFixed(1);
              });
              document.getElementById(id).setAttribute("points", points.join(" "));
            }
            function refresh() {
              fetch("/stats", {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (s) {
                show("connections", s.connections);
                show("events", s.events);
                show("ingest", s.ingest_per_second);
                show("queries", s.queries_per_second);
                show("store", (s.store_bytes / 1048576).toFixed(1));
                var top = 1;
                s.history.forEach(function (h) { top = Math.max(top, h[2], h[3]); });
                line("ingest-line", s.history, 2, top);
                line("query-line", s.history, 3, top);
                show("updated", "last 10 minutes, up to " + top.toFixed(1) + "/s; updated " + new Date().toLocaleTimeString());
              }).catch(function () { show("updated", "relay not answering"); });
            }
            refresh();
            setInterval(refresh, 2000);
            </script>
            </body></html>

            """
    }

    static func megabytes(_ bytes: Int) -> String {
        let tenths = Int((Double(bytes) / 104_857.6).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
