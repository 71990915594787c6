"""A fake Telegram Bot API server: real HTTP on 127.0.0.1, for the real PTB client.

It keeps what Telegram keeps for one bot: pending updates, which stay pending
until a getUpdates offset passes them or the webhook answers 2xx, and are
delivered again otherwise (so a bot killed mid-update gets it back); the
messages the bot sent, with their keyboards; answered callback queries; the
registered commands. Tests play the citizens through `FakeUser` and read what
the bot did from `sent` and `calls`.

Each successful call the bot makes in a chat is counted against the update of that chat
last handed to the bot (`calls_for`): a citizen who waits for each reply before the next
answer, as the tests' citizens do, gets exact costs per answer.

`flood_rate` makes that share of the message calls (send, edit) answer 429 with
`retry_after`; a call for the same chat before that time is up is counted in
`flood_violations`, as Telegram would punish it. `storm(seconds)` makes every message
call answer 429 for a while (a flood wave), and `hang_sends` accepts that many
sends and then answers only after the client has given up (a time-out after the
message was delivered: the case where at-least-once delivery may duplicate).
`sends_per_second` and `busiest` count the accepted message calls, for
asserting rate budgets.

Several bot processes behind one webhook URL are modelled by `targets`: each
delivery attempt goes to one of them at random (a load balancer), `both_rate` of
the updates go to two of them at once (a retry overtaking a slow first attempt),
and an update is confirmed once any target answered 2xx; `pinned` chooses the target of
an update's first attempt (a double tap split across processes); `sticky` sends each
chat's first attempts to one target (a balancer hashing the chat), retries anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

TOKEN = "123456789:AAH-fake-token-for-tests-only_0123456789"
BOT_ID = 123456789
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
FLOOD_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageReplyMarkup"}
)
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
# The calls that put a message in a chat or change one: Telegram's ~30 a second per bot
# and one a second per chat are counted in these.
MESSAGE_METHODS = FLOOD_METHODS
_JSON_FIELDS = {"reply_markup", "allowed_updates", "commands", "scope", "entities"}
_INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "max_connections"}


@dataclass
class SentMessage:
    """A message the bot sent, as the citizen's app shows it now (edits applied)."""

    chat_id: int
    message_id: int
    text: str
    buttons: list[list[tuple[str, str]]] | None
    kind: str = "text"
    at: float = field(default_factory=time.monotonic)
    file_name: str | None = None
    size: int = 0
    content: bytes = b""  # the uploaded file, for a photo or a document
    edits: int = 0
    sent_buttons: list[list[tuple[str, str]]] | None = None  # as first sent, before edits

    def __post_init__(self) -> None:
        self.sent_buttons = self.buttons

    @property
    def callback_data(self) -> list[str]:
        """The buttons' payloads as sent: a citizen may still press one the bot removed."""
        return [data for row in self.sent_buttons or [] for _, data in row]

    @property
    def labels(self) -> list[str]:
        return [label for row in self.sent_buttons or [] for label, _ in row]


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    status: int = 200


def _error(status: int, description: str, **parameters: Any) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


class FakeTelegram:
    def __init__(
        self,
        token: str = TOKEN,
        *,
        username: str = "SipasSurveyBot",
        flood_rate: float = 0.0,
        retry_after: int = 1,
        seed: int = 7,
        webhook_retry_delay: float = 0.05,
        max_connections: int = 100,
        targets: list[str] | None = None,
        both_rate: float = 0.0,
        sticky: bool = False,
    ):
        self.token = token
        self.username = username
        self.flood_rate = flood_rate
        self.retry_after = retry_after
        self.fail_sends = 0  # answer this many sendMessage calls with 500
        self.hang_sends = 0  # accept this many sends, then answer after `hang_seconds`
        self.hang_seconds = 6.0  # longer than the bot's read time-out (5 s)
        self.hung: list[SentMessage] = []  # accepted, but the client timed out
        self._storm_until = 0.0
        self.storm_answers = 0  # 429s answered during storms
        self.targets = list(targets) if targets else None
        self.both_rate = both_rate
        self.sticky = sticky  # first attempts by chat (chat id modulo targets), not at random
        self.posts_by_target: Counter[str] = Counter()
        self.posted_to_both: set[int] = set()  # update ids delivered to two targets at once
        self.webhook_answers: list[tuple[float, float, int]] = []  # (posted, answered, status)
        self.pinned: dict[int, int] = {}  # update id -> the target of its first attempt
        self.webhook_retry_delay = webhook_retry_delay
        self.max_connections = max_connections
        self._random = random.Random(seed)
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self.port = 0
        self.started_at = time.monotonic()
        # Updates: pending until confirmed; per chat in order, for ordered webhook delivery.
        self._next_update_id = 1000
        self._next_message_id = 1
        self._next_query_id = 1
        self.pending: dict[int, dict[str, Any]] = {}
        self._pending_by_chat: dict[int, deque[int]] = defaultdict(deque)
        self.confirmed: list[int] = []
        self.first_delivered_at: dict[int, float] = {}
        self.handed_out: Counter[int] = Counter()  # times each update went to the bot
        self.deliveries: int = 0
        self.webhook_statuses: list[int] = []
        self._poll_generation = 0
        self._new_update = asyncio.Event()
        self._delivering: dict[int, asyncio.Task] = {}
        self.webhook: dict[str, Any] | None = None
        # What the bot did.
        self.calls: list[Call] = []
        self.sent: list[SentMessage] = []
        self.messages: dict[int, SentMessage] = {}
        self._by_chat: dict[int, list[SentMessage]] = defaultdict(list)
        self._queries: dict[str, int] = {}  # open callback query id -> chat id
        self.answered: dict[str, dict[str, Any]] = {}
        self._newest_update: dict[int, int] = {}  # chat id -> update last handed out
        self._calls_for: dict[int, Counter[str]] = defaultdict(Counter)
        self.update_kinds: dict[int, str] = {}  # update id -> "message", "callback_query"
        self._query_updates: dict[str, int] = {}  # callback query id -> its update
        self.commands: dict[str, list[tuple[str, str]]] = {}
        self.floods: list[tuple[int, str, float]] = []
        self.flood_violations = 0
        self._blocked_until: dict[int, float] = {}
        self._waiters: dict[int, list[asyncio.Future]] = defaultdict(list)
        self.on_message: Callable[[SentMessage], None] | None = None

    # -- life cycle ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/{prefix:bot[^/]+}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.started_at = time.monotonic()
        self._client = ClientSession(
            connector=TCPConnector(limit=self.max_connections),
            timeout=ClientTimeout(total=15),
        )
        return self

    async def stop(self) -> None:
        self._poll_generation += 1  # a getUpdates still waiting returns now
        self._wake_pollers()
        for task in list(self._delivering.values()):
            task.cancel()
        await asyncio.gather(*self._delivering.values(), return_exceptions=True)
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the citizens' side ------------------------------------------------------------

    def user(self, chat_id: int, language_code: str = "vi") -> FakeUser:
        return FakeUser(self, chat_id, language_code)

    def add_update(self, payload: dict[str, Any], chat_id: int) -> int:
        """Queue an update (payload without update_id) for delivery; returns its id."""
        self._next_update_id += 1
        update_id = self._next_update_id
        self.pending[update_id] = {"update_id": update_id, **payload}
        self.update_kinds[update_id] = next(iter(payload), "")
        if "callback_query" in payload:
            self._query_updates[payload["callback_query"]["id"]] = update_id
        self._pending_by_chat[chat_id].append(update_id)
        self._wake_pollers()
        if self.webhook is not None:
            self._kick(chat_id)
        return update_id

    def new_query_id(self, chat_id: int) -> str:
        query_id = f"q{self._next_query_id}"
        self._next_query_id += 1
        self._queries[query_id] = chat_id
        return query_id

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "SIPAS",
            "username": self.username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    # -- what the bot sent ---------------------------------------------------------------

    def chat_messages(self, chat_id: int) -> list[SentMessage]:
        return self._by_chat[chat_id]

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method and call.status == 200]

    def calls_for(self, update_id: int) -> Counter[str]:
        """The successful calls, by method, the bot made in the update's chat while that
        update was the newest the chat had sent."""
        return Counter(self._calls_for.get(update_id, {}))

    def message_calls_for(self, update_id: int) -> int:
        calls = self.calls_for(update_id)
        return sum(count for method, count in calls.items() if method in MESSAGE_METHODS)

    def updates_of_kind(self, kind: str) -> list[int]:
        return [u for u, k in self.update_kinds.items() if k == kind]

    async def wait_for_chat(self, chat_id: int, within: float) -> None:
        """Until something changes in the chat (a message sent or edited), or the timeout."""
        future = asyncio.get_running_loop().create_future()
        self._waiters[chat_id].append(future)
        try:
            await asyncio.wait_for(future, within)
        except TimeoutError:
            pass
        finally:
            with contextlib.suppress(ValueError):
                self._waiters[chat_id].remove(future)

    async def wait_until(self, predicate: Callable[[], bool], within: float = 10) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not met in time")
            await asyncio.sleep(0.01)

    def _changed(self, chat_id: int) -> None:
        for future in self._waiters.pop(chat_id, []):
            if not future.done():
                future.set_result(None)

    # -- HTTP ----------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["prefix"] != f"bot{self.token}":
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        handler = getattr(self, f"_api_{method}", None)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        if handler is None:
            call.status = 404
            return _error(404, "Not Found: method not found")
        if method == "sendMessage" and self.fail_sends:
            self.fail_sends -= 1
            call.status = 500
            return _error(500, "Internal Server Error")
        if method in FLOOD_METHODS and time.monotonic() < self._storm_until:
            call.status = 429
            self.storm_answers += 1
            return _error(429, "Too Many Requests: retry after 1", retry_after=1)
        if method in FLOOD_METHODS and (flooded := self._flood(int(params["chat_id"]), method)):
            call.status = 429
            return flooded
        response = await handler(params)
        call.status = response.status
        if response.status == 200:
            self._count_for_update(method, params)
        if method in SEND_METHODS and self.hang_sends and response.status == 200:
            self.hang_sends -= 1
            self.hung.append(self.sent[-1])
            await asyncio.sleep(self.hang_seconds)  # the client gave up meanwhile
        return response

    def storm(self, seconds: float) -> None:
        """Every message call answers 429 (retry after 1 s) for the next `seconds`."""
        self._storm_until = time.monotonic() + seconds

    def sends_per_second(
        self, methods: frozenset[str] | set[str] = FLOOD_METHODS, chat_id: int | None = None
    ) -> Counter[int]:
        """Accepted message calls per whole second since the server started."""
        counts: Counter[int] = Counter()
        for call in self.calls:
            wanted = chat_id is None or int(call.params.get("chat_id", 0)) == chat_id
            if call.method in methods and call.status == 200 and wanted:
                counts[int(call.at - self.started_at)] += 1
        return counts

    def busiest(
        self,
        window: float = 1.0,
        methods: frozenset[str] | set[str] = FLOOD_METHODS,
        chats: set[int] | None = None,
    ) -> int:
        """The most accepted message calls (to `chats`, or any) in a sliding window."""
        times = sorted(
            call.at
            for call in self.calls
            if call.method in methods
            and call.status == 200
            and (chats is None or int(call.params.get("chat_id", 0)) in chats)
        )
        best, first = 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= window:
                first += 1
            best = max(best, last - first + 1)
        return best

    def _count_for_update(self, method: str, params: dict[str, Any]) -> None:
        """A query's answer counts for the update of its press; a chat's call for the
        chat's newest update."""
        if "callback_query_id" in params:
            update_id = self._query_updates.get(params["callback_query_id"])
        elif "chat_id" in params:
            update_id = self._newest_update.get(int(params["chat_id"]))
        else:
            return
        if update_id is not None:
            self._calls_for[update_id][method] += 1

    def _handed_out(self, update: dict[str, Any]) -> None:
        update_id = update["update_id"]
        self.handed_out[update_id] += 1
        chat_id = _chat_of(update)
        if self._newest_update.get(chat_id, -1) < update_id:
            self._newest_update[chat_id] = update_id

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        params: dict[str, Any] = {}
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                content = value.file.read()
                params[key] = {
                    "file_name": value.filename,
                    "size": len(content),
                    "content": content,
                }
            elif key in _JSON_FIELDS:
                params[key] = json.loads(value)
            elif key in _INT_FIELDS:
                params[key] = int(value)
            else:
                params[key] = value
        return params

    def _flood(self, chat_id: int, method: str) -> web.Response | None:
        now = time.monotonic()
        blocked_until = self._blocked_until.get(chat_id, 0.0)
        if now < blocked_until:
            self.flood_violations += 1
            return _error(
                429,
                "Too Many Requests: retry after",
                retry_after=max(1, round(blocked_until - now)),
            )
        if self.flood_rate and self._random.random() < self.flood_rate:
            self._blocked_until[chat_id] = now + self.retry_after
            self.floods.append((chat_id, method, now))
            return _error(
                429,
                f"Too Many Requests: retry after {self.retry_after}",
                retry_after=self.retry_after,
            )
        return None

    # -- Bot API methods -------------------------------------------------------------------

    async def _api_getMe(self, params: dict[str, Any]) -> web.Response:
        return _ok(self.bot_user())

    async def _api_setMyCommands(self, params: dict[str, Any]) -> web.Response:
        commands = [(c["command"], c["description"]) for c in params["commands"]]
        self.commands[params.get("language_code", "")] = commands
        return _ok(True)

    async def _api_setWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = params
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self._drop_pending()
        self._poll_generation += 1  # a waiting getUpdates ends with a conflict
        self._wake_pollers()
        for chat_id, queue in self._pending_by_chat.items():
            if queue:
                self._kick(chat_id)
        return _ok(True)

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = None
        for task in list(self._delivering.values()):
            task.cancel()
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self._drop_pending()
        return _ok(True)

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> web.Response:
        return _ok(
            {
                "url": (self.webhook or {}).get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self.pending),
            }
        )

    async def _api_getUpdates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook is not None:
            return _error(409, "Conflict: can't use getUpdates method while webhook is active")
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()  # an older getUpdates still waiting ends with a conflict
        offset = params.get("offset")
        if offset is not None:
            self._confirm_below(int(offset))
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            if generation != self._poll_generation:
                return _error(409, "Conflict: terminated by other getUpdates request")
            ready = [
                update
                for update_id, update in sorted(self.pending.items())
                if offset is None or update_id >= int(offset)
            ][:limit]
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0:
                now = time.monotonic()
                for update in ready:
                    self.first_delivered_at.setdefault(update["update_id"], now)
                    self._handed_out(update)
                return _ok(ready)
            event = self._new_update
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def _api_sendMessage(self, params: dict[str, Any]) -> web.Response:
        return self._record(params, params["text"], "text")

    async def _api_sendPhoto(self, params: dict[str, Any]) -> web.Response:
        photo = params.get("photo") or {}
        message = self._record(params, params.get("caption", ""), "photo", photo.get("size", 0))
        self.sent[-1].content = photo.get("content", b"")
        return message

    async def _api_sendDocument(self, params: dict[str, Any]) -> web.Response:
        document = params.get("document") or {}
        message = self._record(
            params, params.get("caption", ""), "document", document.get("size", 0)
        )
        self.sent[-1].file_name = document.get("file_name")
        self.sent[-1].content = document.get("content", b"")
        return message

    async def _api_editMessageText(self, params: dict[str, Any]) -> web.Response:
        return self._edit(params, params["text"])

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> web.Response:
        return self._edit(params, None)

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        query_id = params["callback_query_id"]
        if query_id not in self._queries or query_id in self.answered:
            return _error(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self.answered[query_id] = params
        return _ok(True)

    # -- helpers ---------------------------------------------------------------------------

    def _record(self, params: dict[str, Any], text: str, kind: str, size: int = 0) -> web.Response:
        chat_id = int(params["chat_id"])
        message = SentMessage(
            chat_id=chat_id,
            message_id=self._next_message_id,
            text=text,
            buttons=_buttons(params.get("reply_markup")),
            kind=kind,
            size=size,
        )
        self._next_message_id += 1
        self.sent.append(message)
        self.messages[message.message_id] = message
        self._by_chat[chat_id].append(message)
        if self.on_message is not None:
            self.on_message(message)
        self._changed(chat_id)
        return _ok(self.message_json(message))

    def _edit(self, params: dict[str, Any], text: str | None) -> web.Response:
        message = self.messages.get(int(params.get("message_id", 0)))
        if message is None or message.chat_id != int(params["chat_id"]):
            return _error(400, "Bad Request: message to edit not found")
        buttons = _buttons(params.get("reply_markup"))
        if (text is None or text == message.text) and buttons == message.buttons:
            return _error(400, "Bad Request: message is not modified")
        message.buttons = buttons
        if text is not None:
            message.text = text
        message.edits += 1
        self._changed(message.chat_id)
        return _ok(self.message_json(message))

    def message_json(self, message: SentMessage) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": {"id": message.chat_id, "type": "private", "first_name": "Citizen"},
            "from": self.bot_user(),
        }
        if message.kind == "text":
            data["text"] = message.text
        else:
            data["caption"] = message.text
        if message.kind == "photo":
            data["photo"] = [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
        if message.kind == "document":
            data["document"] = {"file_id": "d", "file_unique_id": "d"}
        if message.buttons:
            data["reply_markup"] = {
                "inline_keyboard": [
                    [{"text": label, "callback_data": payload} for label, payload in row]
                    for row in message.buttons
                ]
            }
        return data

    def _wake_pollers(self) -> None:
        self._new_update.set()
        self._new_update = asyncio.Event()

    def _confirm_below(self, offset: int) -> None:
        for update_id in [u for u in self.pending if u < offset]:
            update = self.pending.pop(update_id)
            self.confirmed.append(update_id)
            queue = self._pending_by_chat[_chat_of(update)]
            with contextlib.suppress(ValueError):
                queue.remove(update_id)

    def _drop_pending(self) -> None:
        self.pending.clear()
        self._pending_by_chat.clear()

    def _kick(self, chat_id: int) -> None:
        if chat_id not in self._delivering:
            self._delivering[chat_id] = asyncio.create_task(self._deliver_chat(chat_id))

    async def _deliver_chat(self, chat_id: int) -> None:
        """POST the chat's pending updates to the webhook one by one, in order, until 2xx."""
        try:
            queue = self._pending_by_chat[chat_id]
            while queue and self.webhook is not None:
                update_id = queue[0]
                if await self._post(self.pending[update_id]):
                    queue.popleft()
                    del self.pending[update_id]
                    self.confirmed.append(update_id)
                else:
                    await asyncio.sleep(self.webhook_retry_delay)
        finally:
            self._delivering.pop(chat_id, None)

    async def _post(self, update: dict[str, Any]) -> bool:
        """One delivery attempt (to two targets at once for `both_rate` of the updates)."""
        assert self.webhook is not None
        if not self.targets:
            return await self._post_to(self.webhook["url"], update)
        update_id = update["update_id"]
        first = update_id not in self.handed_out
        if first and update_id in self.pinned:
            return await self._post_to(self.targets[self.pinned[update_id]], update)
        if first and len(self.targets) > 1 and self._random.random() < self.both_rate:
            self.posted_to_both.add(update_id)
            pair = self._random.sample(self.targets, 2)
            answers = await asyncio.gather(*(self._post_to(url, update) for url in pair))
            return any(answers)
        if first and self.sticky:
            return await self._post_to(self.targets[_chat_of(update) % len(self.targets)], update)
        return await self._post_to(self._random.choice(self.targets), update)

    async def _post_to(self, url: str, update: dict[str, Any]) -> bool:
        assert self._client is not None and self.webhook is not None
        headers = {"Content-Type": "application/json"}
        if self.webhook.get("secret_token"):
            headers[SECRET_HEADER] = self.webhook["secret_token"]
        self.first_delivered_at.setdefault(update["update_id"], time.monotonic())
        self._handed_out(update)
        self.deliveries += 1
        self.posts_by_target[url] += 1
        posted, status = time.monotonic(), 0
        try:
            async with self._client.post(url, data=json.dumps(update), headers=headers) as response:
                await response.read()
                status = response.status
        except Exception:  # noqa: BLE001 - refused, reset, timed out: deliver it again
            status = 0
        self.webhook_statuses.append(status)
        self.webhook_answers.append((posted, time.monotonic(), status))
        return 200 <= status < 300


def _buttons(markup: dict[str, Any] | None) -> list[list[tuple[str, str]]] | None:
    if not markup or not markup.get("inline_keyboard"):
        return None
    return [
        [(button["text"], button.get("callback_data", "")) for button in row]
        for row in markup["inline_keyboard"]
    ]


def _chat_of(update: dict[str, Any]) -> int:
    if "callback_query" in update:
        return update["callback_query"]["message"]["chat"]["id"]
    for key in ("message", "edited_message", "channel_post"):
        if key in update:
            return update[key]["chat"]["id"]
    return 0


class FakeUser:
    """One citizen in a private chat with the bot."""

    def __init__(self, server: FakeTelegram, chat_id: int, language_code: str = "vi"):
        self.server = server
        self.chat_id = chat_id
        self.language_code = language_code
        self.cursor = 0  # messages before this index have been read
        self._message_ids = 0

    @property
    def _from(self) -> dict[str, Any]:
        return {
            "id": self.chat_id,
            "is_bot": False,
            "first_name": "Citizen",
            "language_code": self.language_code,
        }

    def _message(self, **content: Any) -> dict[str, Any]:
        self._message_ids += 1
        return {
            "message_id": self._message_ids,
            "date": int(time.time()),
            "chat": {"id": self.chat_id, "type": "private", "first_name": "Citizen"},
            "from": self._from,
            **content,
        }

    def send(self, text: str) -> int:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            length = len(text.split(" ", 1)[0])
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self.server.add_update({"message": self._message(**content)}, self.chat_id)

    def send_sticker(self) -> int:
        sticker = {
            "file_id": "CAACAgIAAxkBAAE",
            "file_unique_id": "AgADAQAD",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        }
        return self.server.add_update({"message": self._message(sticker=sticker)}, self.chat_id)

    def press(self, message: SentMessage, data: str) -> int:
        query = {
            "id": self.server.new_query_id(self.chat_id),
            "from": self._from,
            "chat_instance": f"ci{self.chat_id}",
            "data": data,
            "message": self.server.message_json(message),
        }
        return self.server.add_update({"callback_query": query}, self.chat_id)

    @property
    def messages(self) -> list[SentMessage]:
        return self.server.chat_messages(self.chat_id)

    def unread(self) -> list[SentMessage]:
        return self.messages[self.cursor :]

    def question(self) -> SentMessage:
        """The latest message that still shows buttons."""
        for message in reversed(self.messages):
            if message.buttons:
                return message
        raise AssertionError(f"chat {self.chat_id} has no message with buttons")

    def press_value(self, value: int | str, message: SentMessage | None = None) -> int:
        """Press the button whose payload ends with `.value` on the latest question."""
        message = message or self.question()
        for data in message.callback_data:
            if data.endswith(f".{value}"):
                return self.press(message, data)
        raise AssertionError(f"no button for {value!r} in {message.labels}")

    async def expect(self, wanted: str | Callable[[SentMessage], bool], within: float = 10):
        """The first unread message containing `wanted` (or matching it); marks it read."""
        match = wanted if callable(wanted) else (lambda m: wanted in m.text)
        deadline = time.monotonic() + within
        while True:
            for index in range(self.cursor, len(self.messages)):
                if match(self.messages[index]):
                    self.cursor = index + 1
                    return self.messages[index]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [m.text[:60] for m in self.unread()]
                raise AssertionError(f"chat {self.chat_id}: no {wanted!r} in {seen}")
            await self.server.wait_for_chat(self.chat_id, remaining)
