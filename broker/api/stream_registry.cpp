#include "api/stream_registry.hpp"

#include "tether/shared/log.hpp"

#include <map>
#include <optional>
#include <utility>

namespace tether::broker::api {
namespace {

constexpr std::string_view revoked_message =
    "your credentials are no longer valid (signed out, the API key was revoked, or the account was removed or "
    "disabled): sign in again";

} // namespace

void stream_registry::add(const caller& who, const std::shared_ptr<net::sse_channel>& channel, last_words words) {
    if (!who.user || who.how == auth_kind::none) return;
    entry e;
    e.channel = channel;
    e.how = who.how;
    e.token = who.how == auth_kind::cookie ? who.session_token : who.api_key;
    e.username = who.user->name;
    e.words = std::move(words);
    std::lock_guard lock(mu_);
    // Drop what has closed now and then, so the list does not grow with
    // streams that ended on their own.
    if (entries_.size() >= 64 && (entries_.size() & (entries_.size() - 1)) == 0) {
        std::erase_if(entries_, [](const entry& x) {
            auto ch = x.channel.lock();
            return !ch || ch->closed();
        });
    }
    entries_.push_back(std::move(e));
}

std::size_t stream_registry::revalidate(account_store& accounts) {
    std::vector<entry> open;
    {
        std::lock_guard lock(mu_);
        std::erase_if(entries_, [](const entry& x) {
            auto ch = x.channel.lock();
            return !ch || ch->closed();
        });
        open = entries_;
    }
    // One store lookup per distinct credential, however many streams it has.
    std::map<std::pair<auth_kind, std::string>, bool> valid;
    for (const auto& e : open) {
        auto key = std::make_pair(e.how, e.token);
        if (valid.contains(key)) continue;
        auto user =
            e.how == auth_kind::cookie ? accounts.find_session_user(e.token) : accounts.find_api_key_user(e.token);
        valid[key] = user && user->name == e.username && !user->disabled;
    }
    std::size_t ended = 0;
    for (auto& e : open) {
        if (valid[{e.how, e.token}]) continue;
        if (auto ch = e.channel.lock(); ch && !ch->closed()) {
            if (e.words) e.words(*ch);
            ch->finish();
            ++ended;
        }
    }
    if (ended > 0) log::info("ended {} event stream(s) whose credentials were revoked", ended);
    return ended;
}

std::size_t stream_registry::open_streams() {
    std::lock_guard lock(mu_);
    std::erase_if(entries_, [](const entry& x) {
        auto ch = x.channel.lock();
        return !ch || ch->closed();
    });
    return entries_.size();
}

void write_revoked_event(net::sse_channel& channel) {
    channel.push("event: revoked\ndata: {\"error\":{\"code\":\"unauthorized\",\"message\":\"" +
                 std::string(revoked_message) + "\"}}\n\n");
}

void write_revoked_openai(net::sse_channel& channel) {
    channel.push("data: {\"error\":{\"message\":\"" + std::string(revoked_message) +
                 "\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}\n\n");
}

} // namespace tether::broker::api
