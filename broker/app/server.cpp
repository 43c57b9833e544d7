#include "app/server.hpp"

#include "api/api_handler.hpp"
#include "api/stream_registry.hpp"
#include "app/config_watch.hpp"
#include "app/core_host.hpp"
#include "app/retention_service.hpp"
#include "net/listener.hpp"
#include "store/blob_store.hpp"
#include "store/store.hpp"

#include "tether/protocol/frames.hpp"
#include "tether/shared/log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fmt/format.h>

#include <malloc.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tether::broker::app {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<asio::ssl::context> make_tls(const broker_config& c) {
    if (!c.tls_cert) return nullptr;
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                     asio::ssl::context::single_dh_use);
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(c.tls_cert->string(), ec);
    if (ec) throw std::runtime_error(fmt::format("cannot load --tls-cert {}: {}", c.tls_cert->string(), ec.message()));
    ctx->use_private_key_file(c.tls_key->string(), asio::ssl::context::pem, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot load --tls-key {}: {}", c.tls_key->string(), ec.message()));
    return ctx;
}

asio::ip::tcp::endpoint make_endpoint(const host_port& hp) {
    boost::system::error_code ec;
    auto host = hp.host == "localhost" ? std::string("127.0.0.1") : hp.host;
    auto addr = asio::ip::make_address(host, ec);
    if (ec) throw std::runtime_error(fmt::format("--listen: \"{}\" is not an IP address", hp.host));
    return {addr, hp.port};
}

// Every connection is a file descriptor, and so are the store's files and the
// spooled uploads: raise the soft open-file limit toward the hard one so that
// --max-connections, not a failing accept, is what bounds connections.
void fit_open_file_limit(std::size_t max_connections) {
    constexpr rlim_t reserve = 256; // database, WAL, blobs, spool files, stdio
    const rlim_t wanted = static_cast<rlim_t>(max_connections) + reserve;
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    if (lim.rlim_cur < wanted) {
        rlimit raised = lim;
        raised.rlim_cur = std::min(wanted, lim.rlim_max);
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    if (lim.rlim_cur < wanted)
        log::warn("--max-connections {} needs about {} open files but the limit is {} (ulimit -Hn): accepts past it fail",
                  max_connections, static_cast<unsigned long long>(wanted),
                  static_cast<unsigned long long>(lim.rlim_cur));
}

// Process-wide allocator settings, before the first SQLite call. Both were
// found with perf under load (bench/README.md, "hot paths"):
// - SQLite keeps allocation statistics behind one global mutex by default, so
//   every sqlite3_malloc on the writer and the readers took the same lock.
//   The broker never reads those statistics.
// - glibc gives the top of a thread's arena back with madvise(MADV_DONTNEED)
//   as soon as 128 KiB are free there; with several threads freeing request
//   buffers that was ~4 madvise calls (and TLB shoot-downs across cores) per
//   request, and page faults to get the memory back. Keeping up to 16 MiB per
//   arena costs at most that much idle memory.
void tune_allocators() {
    if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
        log::debug("sqlite3_config(MEMSTATUS) refused: SQLite was already initialised");
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
}

} // namespace

int run_server(const broker_config& config) {
    static const system_clock_source clock;
    tune_allocators();
    auto tls = make_tls(config);
    auto endpoint = make_endpoint(config.listen);
    fit_open_file_limit(config.max_connections);

    auto st = open_store(config.data_dir, clock);
    blob_store blobs(config.data_dir / "blobs");
    auto spool = config.data_dir / "blobs" / "spool";
    std::error_code fec;
    fs::create_directories(spool, fec);
    // Uploads that never became requests (a crash mid-upload) are leftovers.
    for (const auto& e : fs::directory_iterator(spool, fec)) fs::remove(e.path(), fec);

    unsigned threads = std::max(1U, config.threads);
    asio::io_context ioc(static_cast<int>(threads));

    core_limits limits;
    limits.heartbeat_s = config.heartbeat_s;
    // Event ids of this start are above those of every earlier one, so a
    // watcher's Last-Event-ID from before a restart still means what it said.
    limits.event_epoch = st->next_boot();
    api::latency_metrics latency;
    std::unique_ptr<rate_limiter> limiter;
    if (config.rate_limits) limiter = std::make_unique<rate_limiter>(clock, *config.rate_limits);
    auto host = std::make_shared<core_host>(ioc, *st, blobs, clock, limits, &latency);

    // Spaces first, then the requests that were in flight when we stopped.
    std::vector<space_config> spaces;
    if (st->read_spaces(spaces) != store_status::ok)
        throw std::runtime_error("cannot read the spaces from the store (see the log)");
    auto pending = st->load_non_terminal();
    log::info("loaded {} spaces, recovering {} unfinished requests", spaces.size(), pending.size());
    host->post([spaces = std::move(spaces), pending = std::move(pending)](broker_core& core) mutable {
        for (auto& s : spaces) core.set_space(std::move(s));
        core.recover(std::move(pending));
    });

    auto draining = std::make_shared<std::atomic<bool>>(false);
    auto counters = std::make_shared<net::net_counters>();
    api::api_options opts;
    opts.max_upload = config.max_upload;
    opts.max_json = config.max_json;
    opts.web_dir = config.web_dir;
    opts.spool_dir = spool;
    opts.tls = tls != nullptr;
    api::stream_registry streams;
    config_watch watch(*st, *host, streams);
    retention_policy policy;
    policy.retain = config.retain;
    policy.max_data_bytes = config.max_data_size;
    retention_service pruner(*st, blobs, clock, policy, config.prune_interval);

    api::api_services services{opts, *st, blobs, *host, counters, draining};
    services.limiter = limiter.get();
    services.latency = &latency;
    services.streams = &streams;
    services.retention = &pruner.stats();
    services.sync_config = [&watch] { watch.sync_now(); };
    auto handler = std::make_shared<api::api_handler>(std::move(services), std::max(4U, threads));

    auto ctx = std::make_shared<net::session_context>();
    ctx->limits.heartbeat_s = config.heartbeat_s;
    ctx->limits.max_text_frame = config.max_frame;
    ctx->limits.max_blob_chunk = config.max_frame;
    ctx->limits.max_output_file = config.max_upload;
    ctx->limits.max_connections = config.max_connections;
    ctx->handler = handler;
    ctx->agents = host;
    ctx->counters = counters;

    boost::system::error_code ec;
    auto lst = std::make_shared<net::listener>(ioc, endpoint, tls, ctx, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot listen on {}:{}: {}", config.listen.host, config.listen.port,
                                                 ec.message()));
    watch.start();
    st->set_change_listener([&watch] { watch.poke(); });
    pruner.start();
    lst->run();
    auto bound = lst->local_endpoint();
    log::info("tether-broker listening on {}://{}:{}", tls ? "https" : "http", bound.address().to_string(),
              bound.port());
    std::printf("listening on %s:%u\n", bound.address().to_string().c_str(), static_cast<unsigned>(bound.port()));
    std::fflush(stdout);

    // Housekeeping: expired browser sessions, hourly.
    asio::steady_timer sweep(ioc);
    std::function<void()> arm_sweep = [&] {
        sweep.expires_after(std::chrono::hours(1));
        sweep.async_wait([&](boost::system::error_code e) {
            if (e) return;
            if (auto n = st->delete_expired_sessions(); n > 0) log::info("removed {} expired sessions", n);
            arm_sweep();
        });
    };
    arm_sweep();

    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    asio::steady_timer grace(ioc);
    std::thread stopper;
    signals.async_wait([&](boost::system::error_code e, int sig) {
        if (e) return;
        log::info("signal {}: stopping", sig);
        draining->store(true);
        sweep.cancel();
        lst->stop();
        host->close_all_agents(protocol::close_going_away, "broker shutting down");
        // Give close frames and in-flight answers a moment, then stop.
        grace.expires_after(std::chrono::milliseconds(300));
        grace.async_wait([&](boost::system::error_code) {
            stopper = std::thread([&] {
                pruner.stop();
                st->set_change_listener(nullptr);
                watch.stop();
                handler->stop(); // running handlers finish (they may need the io threads)
                st->flush();     // every write queued so far is on disk
                ioc.stop();
            });
        });
    });

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
    if (stopper.joinable()) stopper.join();
    pruner.stop();
    st->set_change_listener(nullptr);
    watch.stop();
    st->flush();
    log::info("stopped");
    return 0;
}

} // namespace tether::broker::app
