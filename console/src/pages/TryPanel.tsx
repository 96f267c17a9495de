import { useCallback, useEffect, useState, type FormEvent } from "react";
import { gql } from "../api";
import { graphql } from "../gql";
import { useI18n } from "../i18n";

const WebChannel = graphql(`query TryChannel($bot: ID!) { bot(id: $bot) { channels { id kind isActive } } }`);
const Position = graphql(`
  query TryPosition($channel: ID!, $contact: String!) {
    conversations(channelId: $channel, contact: $contact, first: 1) { items { id position { nodeId } } }
  }
`);

interface ChatMessage { id: string; direction: string; text: string | null; content: any }

/** Chat with the bot on its web channel, as a new visitor; reports the node the run is at. */
export function TryPanel({ botId, onPosition }: { botId: string; onPosition: (nodeId: string | null) => void }) {
  const { t } = useI18n();
  const [channel, setChannel] = useState<string | null | undefined>(undefined);
  const [contact, setContact] = useState(() => `console-${crypto.randomUUID().slice(0, 8)}`);
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [text, setText] = useState("");
  useEffect(() => {
    gql(WebChannel, { bot: botId }).then((d) => setChannel(d.bot.channels.find((c) => c.kind === "WEB" && c.isActive)?.id ?? null));
  }, [botId]);
  const locate = useCallback(async () => {
    if (!channel) return;
    const items = (await gql(Position, { channel, contact })).conversations.items;
    onPosition(items[0]?.position?.nodeId ?? null);
  }, [channel, contact, onPosition]);
  useEffect(() => {
    if (!channel) return;
    setMessages([]);
    const source = new EventSource(`/channels/web/${channel}/contacts/${contact}/stream`);
    source.addEventListener("message", (event) => {
      const message = JSON.parse((event as MessageEvent).data) as ChatMessage;
      setMessages((all) => (all.some((m) => m.id === message.id) ? all : [...all, message]));
      locate();
    });
    return () => source.close();
  }, [channel, contact, locate]);

  async function post(body: { text?: string; payload?: string }) {
    await fetch(`/channels/web/${channel}/messages`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ contact_id: contact, ...body }),
    });
  }
  async function send(event: FormEvent) {
    event.preventDefault();
    if (!text.trim()) return;
    await post({ text });
    setText("");
  }
  if (channel === undefined) return null;
  return (
    <section className="try" aria-label={t("tryIt")}>
      <h2>{t("tryIt")} <button onClick={() => { setContact(`console-${crypto.randomUUID().slice(0, 8)}`); onPosition(null); }}>{t("restart")}</button></h2>
      {channel === null ? <p>{t("noWebChannel")}</p> : (
        <>
          <ol className="chat" aria-live="polite" data-testid="try-chat">
            {messages.map((m) => (
              <li key={m.id} className={m.direction === "inbound" ? "from-contact" : "from-bot"}>
                {m.content?.text ?? m.text}
                {(m.content?.buttons ?? []).length > 0 && (
                  <div className="chat-buttons">
                    {m.content.buttons.map((b: any) => <button key={b.id} onClick={() => post({ payload: b.id })}>{b.title}</button>)}
                  </div>
                )}
              </li>
            ))}
          </ol>
          <form onSubmit={send} className="chat-form">
            <label className="sr-only" htmlFor="try-text">{t("typeMessage")}</label>
            <input id="try-text" value={text} placeholder={t("typeMessage")} onChange={(e) => setText(e.target.value)} />
            <button type="submit" className="primary">{t("send")}</button>
          </form>
        </>
      )}
    </section>
  );
}
