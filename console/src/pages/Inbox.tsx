import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { gql, subscribe, errorText } from "../api";
import { graphql } from "../gql";
import type { ConversationDetailQuery, ConversationStatus, InboxListQuery } from "../gql/graphql";
import { useI18n } from "../i18n";

const InboxBots = graphql(`query InboxBots { bots { id name } }`);
const InboxList = graphql(`
  query InboxList($bot: ID, $status: ConversationStatus, $text: String, $contact: String) {
    conversations(botId: $bot, status: $status, text: $text, contact: $contact, first: 50) {
      items { id status channelKind tags lastMessageAt contact { externalId name } }
    }
  }
`);
const ConversationDetail = graphql(`
  query ConversationDetail($id: ID!) {
    conversation(id: $id) {
      id status tags temporalUrl channelKind contact { externalId name }
      messages(first: 100) { items { id direction text createdAt sentByUserId } }
      notes { id body createdAt }
      position { nodeId }
    }
  }
`);
const LiveMessages = graphql(`
  subscription LiveMessages($bot: ID) { messages(botId: $bot) { id conversationId direction text createdAt sentByUserId } }
`);
const LiveConversations = graphql(`subscription LiveConversations($bot: ID) { conversationUpdates(botId: $bot) { id status } }`);
const ConversationLive = graphql(`
  subscription ConversationLive($id: ID) { conversationUpdates(conversationId: $id) { id status } }
`);
const ConversationMessages = graphql(`subscription ConversationMessages($id: ID) { messages(conversationId: $id) { id } }`);
const TakeOver = graphql(`mutation TakeOver($id: ID!) { takeOverConversation(id: $id) { id } }`);
const Answer = graphql(`mutation Answer($id: ID!, $text: String!) { sendAgentMessage(conversationId: $id, text: $text) { id } }`);
const AddNote = graphql(`mutation AddNote($id: ID!, $body: String!) { addConversationNote(conversationId: $id, body: $body) { id } }`);
const SetTags = graphql(`mutation SetTags($id: ID!, $tags: [String!]!) { setConversationTags(id: $id, tags: $tags) { id } }`);
const Release = graphql(`mutation Release($id: ID!, $mode: ReleaseMode!) { releaseConversation(id: $id, mode: $mode) { id } }`);
const Close = graphql(`mutation CloseConversation($id: ID!) { closeConversation(id: $id) { id } }`);

const STATUSES: ConversationStatus[] = ["ACTIVE", "HANDED_OFF", "ABANDONED", "CLOSED"];
type Row = InboxListQuery["conversations"]["items"][number];
type Detail = ConversationDetailQuery["conversation"];

export function InboxPage({ route }: { route: string[] }) {
  const { t, date } = useI18n();
  const [bots, setBots] = useState<{ id: string; name: string }[]>([]);
  const [bot, setBot] = useState<string>("");
  const [filters, setFilters] = useState({ status: "", text: "", contact: "" });
  const [rows, setRows] = useState<Row[]>([]);
  const selectedId = route[1] ?? null;

  useEffect(() => {
    gql(InboxBots, {}).then((d) => { setBots(d.bots); setBot((b) => b || d.bots[0]?.id || ""); });
  }, []);
  const reload = useCallback(async () => {
    if (!bot) return;
    const data = await gql(InboxList, {
      bot, status: (filters.status || null) as ConversationStatus | null, text: filters.text || null, contact: filters.contact || null,
    });
    setRows(data.conversations.items);
  }, [bot, filters]);
  useEffect(() => { reload(); }, [reload]);
  // Live: any message or change in this bot's conversations refreshes the list.
  useEffect(() => {
    if (!bot) return;
    const stops = [subscribe(LiveMessages, { bot }, () => reload()), subscribe(LiveConversations, { bot }, () => reload())];
    return () => stops.forEach((stop) => stop());
  }, [bot, reload]);

  return (
    <div className="inbox">
      <section className="inbox-list" aria-label={t("conversations")}>
        <h1>{t("inbox")}</h1>
        <form className="filters" onSubmit={(e) => e.preventDefault()}>
          <label>{t("bot")}<select value={bot} onChange={(e) => setBot(e.target.value)}>
            {bots.map((b) => <option key={b.id} value={b.id}>{b.name}</option>)}
          </select></label>
          <label>{t("status")}<select value={filters.status} onChange={(e) => setFilters({ ...filters, status: e.target.value })}>
            <option value="">{t("all")}</option>
            {STATUSES.map((s) => <option key={s} value={s}>{t(s)}</option>)}
          </select></label>
          <label>{t("contact")}<input value={filters.contact} onChange={(e) => setFilters({ ...filters, contact: e.target.value })} /></label>
          <label>{t("search")}<input type="search" value={filters.text} onChange={(e) => setFilters({ ...filters, text: e.target.value })} /></label>
        </form>
        <ul className="conversation-list">
          {rows.map((row) => (
            <li key={row.id}>
              <a href={`#/inbox/${row.id}`} aria-current={row.id === selectedId ? "true" : undefined} data-testid="conversation-row">
                <strong>{row.contact.name ?? row.contact.externalId}</strong> <span className="badge">{t(row.status)}</span>
                <br /><small>{row.channelKind} · {date(row.lastMessageAt)} {row.tags.map((tag) => <span key={tag} className="tag">{tag}</span>)}</small>
              </a>
            </li>
          ))}
        </ul>
      </section>
      {selectedId ? <ConversationView key={selectedId} id={selectedId} onChange={reload} /> : <p className="hint">{t("noConversation")}</p>}
    </div>
  );
}

function ConversationView({ id, onChange }: { id: string; onChange: () => void }) {
  const { t, date } = useI18n();
  const [conversation, setConversation] = useState<Detail | null>(null);
  const [answer, setAnswer] = useState("");
  const [note, setNote] = useState("");
  const [tags, setTags] = useState("");
  const serverTags = useRef("");
  const [error, setError] = useState("");
  const load = useCallback(async () => {
    try {
      const data = (await gql(ConversationDetail, { id })).conversation;
      setConversation(data);
      // A live reload must not wipe tags being typed: follow the server only where not edited.
      const previous = serverTags.current;
      serverTags.current = data.tags.join(", ");
      setTags((typed) => (typed === previous ? serverTags.current : typed));
    } catch (err) { setError(errorText(err)); }
  }, [id]);
  useEffect(() => { load(); }, [load]);
  useEffect(() => {
    const stops = [subscribe(ConversationMessages, { id }, () => load()), subscribe(ConversationLive, { id }, () => load())];
    return () => stops.forEach((stop) => stop());
  }, [id, load]);

  const act = (work: () => Promise<unknown>) => async (event?: FormEvent) => {
    event?.preventDefault();
    setError("");
    try { await work(); await load(); onChange(); } catch (err) { setError(errorText(err)); }
  };
  if (!conversation) return <section className="conversation" aria-busy="true">{error && <p role="alert" className="error">{error}</p>}</section>;
  const handedOff = conversation.status === "HANDED_OFF";
  return (
    <section className="conversation" aria-label={conversation.contact.externalId}>
      <header>
        <h2>{conversation.contact.name ?? conversation.contact.externalId} <span className="badge" data-testid="conversation-status">{t(conversation.status)}</span></h2>
        <div className="actions">
          {!handedOff && <button className="primary" onClick={act(() => gql(TakeOver, { id }))}>{t("takeOver")}</button>}
          {handedOff && <button onClick={act(() => gql(Release, { id, mode: "RESUME" }))}>{t("release")}</button>}
          {handedOff && <button onClick={act(() => gql(Release, { id, mode: "END" }))}>{t("endFlow")}</button>}
          {conversation.status !== "CLOSED" && <button onClick={act(() => gql(Close, { id }))}>{t("close")}</button>}
          <a href={conversation.temporalUrl} target="_blank" rel="noreferrer">{t("temporal")}</a>
        </div>
      </header>
      {error && <p role="alert" className="error">{error}</p>}
      <ol className="chat" aria-live="polite" data-testid="inbox-chat">
        {conversation.messages.items.map((m) => (
          <li key={m.id} className={m.direction === "inbound" ? "from-contact" : m.sentByUserId ? "from-agent" : "from-bot"}>
            {m.text}<small>{date(m.createdAt)}</small>
          </li>
        ))}
      </ol>
      {handedOff && (
        <form onSubmit={act(async () => { await gql(Answer, { id, text: answer }); setAnswer(""); })} className="chat-form">
          <label className="sr-only" htmlFor="answer">{t("answer")}</label>
          <input id="answer" required value={answer} placeholder={t("answer")} onChange={(e) => setAnswer(e.target.value)} />
          <button type="submit" className="primary">{t("answer")}</button>
        </form>
      )}
      <div className="conversation-side">
        <form onSubmit={act(() => gql(SetTags, { id, tags: tags.split(",").map((s) => s.trim()).filter(Boolean) }))}>
          <label>{t("tags")}<input value={tags} onChange={(e) => setTags(e.target.value)} /></label>
          <button type="submit">{t("saveTags")}</button>
        </form>
        <h3>{t("notes")}</h3>
        <ul className="notes">{conversation.notes.map((n) => <li key={n.id}>{n.body} <small>{date(n.createdAt)}</small></li>)}</ul>
        <form onSubmit={act(async () => { await gql(AddNote, { id, body: note }); setNote(""); })}>
          <label>{t("addNote")}<textarea required value={note} onChange={(e) => setNote(e.target.value)} /></label>
          <button type="submit">{t("addNote")}</button>
        </form>
      </div>
    </section>
  );
}
