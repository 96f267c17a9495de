import { useCallback, useEffect, useState, type FormEvent } from "react";
import { gql, session, errorText } from "../api";
import { graphql } from "../gql";
import type { BotDetailQuery, BotsQuery, ChannelKind } from "../gql/graphql";
import { useI18n, type Key } from "../i18n";
import { go } from "../routes";
import { BotSettingsPage } from "./BotSettings";

const Bots = graphql(`query Bots { bots { id name description createdAt channels { id kind } flows { id } } }`);
const CreateBot = graphql(`mutation CreateBot($input: BotInput!) { createBot(input: $input) { id } }`);
const BotDetail = graphql(`
  query BotDetail($id: ID!) {
    bot(id: $id) {
      id name description defaultFlowId
      channels { id kind name isActive hasSecrets config webhookUrls { purpose url } }
      flows { id name isActive publishedVersionId updatedAt trigger }
    }
  }
`);
const Connect = graphql(`
  mutation ConnectChannel($bot: ID!, $input: ChannelInput!) { connectChannel(botId: $bot, input: $input) { id } }
`);
const Disconnect = graphql(`mutation DisconnectChannel($id: ID!) { disconnectChannel(id: $id) { id } }`);
const CreateFlow = graphql(`
  mutation CreateFlow($bot: ID!, $input: FlowInput!) { createFlow(botId: $bot, input: $input) { id } }
`);
const Templates = graphql(`query Templates { templates { id name category difficulty description nodeCount } }`);
const FromTemplate = graphql(`
  mutation FromTemplate($bot: ID!, $template: ID!, $name: String) {
    createFlowFromTemplate(botId: $bot, templateId: $template, customizations: { name: $name }) { id }
  }
`);
const Duplicate = graphql(`mutation DuplicateFlow($id: ID!) { duplicateFlow(id: $id) { id } }`);
const SetDefault = graphql(`mutation SetDefaultFlow($bot: ID!, $flow: ID) { setDefaultFlow(botId: $bot, flowId: $flow) { id } }`);

export function BotsPage({ route }: { route: string[] }) {
  if (route[1] && route[2] === "settings") return <BotSettingsPage id={route[1]} />;
  return route[1] ? <BotPage id={route[1]} /> : <BotList />;
}

function BotList() {
  const { t, date, number } = useI18n();
  const [bots, setBots] = useState<BotsQuery["bots"]>([]);
  const [form, setForm] = useState({ name: "", description: "" });
  const [error, setError] = useState("");
  const loadBots = async () => (await gql(Bots, {})).bots;
  useEffect(() => { loadBots().then(setBots, (e) => setError(errorText(e))); }, []);
  async function create(event: FormEvent) {
    event.preventDefault();
    try {
      const id = (await gql(CreateBot, { input: form })).createBot.id;
      go(`bots/${id}`);
    } catch (err) { setError(errorText(err)); }
  }
  return (
    <section className="page">
      <h1>{t("bots")}</h1>
      {bots.length === 0 ? <p>{t("noBots")}</p> : (
        <ul className="cards">
          {bots.map((bot) => (
            <li key={bot.id} className="card">
              <a href={`#/bots/${bot.id}`}><strong>{bot.name}</strong></a>
              <p>{bot.description}</p>
              <small>{bot.channels.map((c) => c.kind).join(", ")} · {number(bot.flows.length)} {t("flows").toLowerCase()} · {date(bot.createdAt)}</small>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={create} className="inline-form">
        <h2>{t("newBot")}</h2>
        <label>{t("botName")}<input required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} /></label>
        <label>{t("description")}<input value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} /></label>
        <button type="submit" className="primary">{t("create")}</button>
        {error && <p role="alert" className="error">{error}</p>}
      </form>
    </section>
  );
}

/** Per kind: its plain config fields and its write-only secrets (README's channel table). */
const CHANNEL_FIELDS: Record<ChannelKind, { config: [string, Key][]; secrets: [string, Key][] }> = {
  WEB: { config: [], secrets: [] },
  WHATSAPP_CLOUD: {
    config: [["phone_number_id", "phoneNumberId"]],
    secrets: [["access_token", "accessToken"], ["app_secret", "appSecret"], ["verify_token", "verifyToken"]],
  },
  TWILIO: { config: [["account_sid", "accountSid"], ["from_number", "fromNumber"]], secrets: [["auth_token", "authToken"]] },
};

function BotPage({ id }: { id: string }) {
  const { t, date } = useI18n();
  const [bot, setBot] = useState<BotDetailQuery["bot"] | null>(null);
  const [error, setError] = useState("");
  const reload = useCallback(() => gql(BotDetail, { id }).then((d) => setBot(d.bot), (e) => setError(errorText(e))), [id]);
  useEffect(() => { reload(); }, [reload]);
  const [kind, setKind] = useState<ChannelKind>("WEB");
  const [channel, setChannel] = useState<Record<string, string>>({});
  const [flowForm, setFlowForm] = useState({ name: "", keywords: "" });
  const [templates, setTemplates] = useState<{ id: string; name: string; nodeCount: number }[]>([]);
  const [template, setTemplate] = useState("");
  useEffect(() => { gql(Templates, {}).then((d) => { setTemplates(d.templates); setTemplate(d.templates[0]?.id ?? ""); }); }, []);

  async function connect(event: FormEvent) {
    event.preventDefault();
    const fields = CHANNEL_FIELDS[kind];
    const pick = (keys: [string, Key][]) => Object.fromEntries(keys.map(([k]) => [k, channel[k] ?? ""]));
    try {
      await gql(Connect, { bot: id, input: { kind, name: channel.name ?? "", config: pick(fields.config), secrets: pick(fields.secrets) } });
      setChannel({});
      setError("");
      await reload();
    } catch (err) { setError(errorText(err)); }
  }
  async function createFlow(event: FormEvent) {
    event.preventDefault();
    const keywords = flowForm.keywords.split(",").map((k) => k.trim()).filter(Boolean);
    try {
      const flow = (await gql(CreateFlow, {
        bot: id,
        input: { name: flowForm.name, trigger: { type: keywords.length ? "keyword" : "manual", keywords } },
      })).createFlow;
      go(`flows/${flow.id}`);
    } catch (err) { setError(errorText(err)); }
  }
  async function fromTemplate(event: FormEvent) {
    event.preventDefault();
    try { go(`flows/${(await gql(FromTemplate, { bot: id, template, name: null })).createFlowFromTemplate.id}`); }
    catch (err) { setError(errorText(err)); }
  }
  /** Flow files (the seeds' export format) through the REST endpoints, with the same token. */
  async function exportFlow(flowId: string, name: string) {
    const response = await fetch(`/api/flows/${flowId}/export`, { headers: { Authorization: `Bearer ${session()?.accessToken}` } });
    if (!response.ok) { setError(await response.text()); return; }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = `${name}.json`;
    link.click();
  }
  async function importFlows(file: File) {
    const body = new FormData();
    body.append("file", file);
    const response = await fetch(`/api/bots/${id}/flows/import`, {
      method: "POST", body, headers: { Authorization: `Bearer ${session()?.accessToken}` },
    });
    if (response.ok) { setError(""); await reload(); }
    else setError((await response.json().catch(() => ({}))).detail ?? response.statusText);
  }
  if (!bot) return <section className="page">{error && <p role="alert" className="error">{error}</p>}</section>;
  const fields = CHANNEL_FIELDS[kind];
  return (
    <section className="page">
      <h1>{bot.name}</h1>
      <p>{bot.description}</p>
      <p><a href={`#/bots/${id}/settings`}>{t("botSettings")}</a></p>
      {error && <p role="alert" className="error">{error}</p>}
      <h2>{t("channels")}</h2>
      <ul className="cards">
        {bot.channels.map((c) => (
          <li key={c.id} className="card" data-testid={`channel-${c.kind}`}>
            <strong>{c.name || c.kind}</strong> <span className="badge">{c.kind}</span>{" "}
            <span className="badge">{t(c.isActive ? "active" : "inactive")}</span>
            <p><small>{t(c.hasSecrets ? "secretsStored" : "noSecrets")}</small></p>
            {c.webhookUrls.length > 0 && (
              <dl className="webhooks" aria-label={t("webhookUrls")}>
                {c.webhookUrls.map((w) => (
                  <div key={w.purpose}><dt>{w.purpose}</dt><dd><code>{w.url}</code></dd></div>
                ))}
              </dl>
            )}
            {c.isActive && <button onClick={() => gql(Disconnect, { id: c.id }).then(reload)}>{t("disconnect")}</button>}
          </li>
        ))}
      </ul>
      <form onSubmit={connect} className="inline-form" aria-label={t("connect")}>
        <label>{t("kind")}
          <select value={kind} onChange={(e) => setKind(e.target.value as ChannelKind)}>
            <option value="WEB">Web</option><option value="WHATSAPP_CLOUD">WhatsApp Cloud</option><option value="TWILIO">Twilio</option>
          </select>
        </label>
        <label>{t("channelName")}<input value={channel.name ?? ""} onChange={(e) => setChannel({ ...channel, name: e.target.value })} /></label>
        {fields.config.map(([key, label]) => (
          <label key={key}>{t(label)}<input required value={channel[key] ?? ""} onChange={(e) => setChannel({ ...channel, [key]: e.target.value })} /></label>
        ))}
        {fields.secrets.map(([key, label]) => (
          <label key={key}>{t(label)}<input required type="password" autoComplete="off" value={channel[key] ?? ""} onChange={(e) => setChannel({ ...channel, [key]: e.target.value })} /></label>
        ))}
        <button type="submit" className="primary">{t("connect")}</button>
      </form>
      <h2>{t("flows")}</h2>
      <ul className="cards">
        {bot.flows.map((f) => (
          <li key={f.id} className="card">
            <a href={`#/flows/${f.id}`}><strong>{f.name}</strong></a>{" "}
            {f.publishedVersionId && <span className="badge">{t("published")}</span>}{" "}
            {bot.defaultFlowId === f.id ? <span className="badge">{t("defaultFlow")}</span> : (
              <button onClick={() => gql(SetDefault, { bot: id, flow: f.id }).then(reload, (e) => setError(errorText(e)))}>{t("makeDefault")}</button>
            )}
            <p><small>{(f.trigger?.keywords ?? []).join(", ")} · {date(f.updatedAt)}</small></p>
            <button onClick={() => gql(Duplicate, { id: f.id }).then(reload, (e) => setError(errorText(e)))}>{t("duplicate")}</button>{" "}
            <button onClick={() => exportFlow(f.id, f.name)}>{t("exportFile")}</button>
          </li>
        ))}
      </ul>
      <form onSubmit={createFlow} className="inline-form" aria-label={t("newFlow")}>
        <label>{t("flowName")}<input required value={flowForm.name} onChange={(e) => setFlowForm({ ...flowForm, name: e.target.value })} /></label>
        <label>{t("keywords")}<input value={flowForm.keywords} onChange={(e) => setFlowForm({ ...flowForm, keywords: e.target.value })} /></label>
        <button type="submit" className="primary">{t("newFlow")}</button>
      </form>
      <form onSubmit={fromTemplate} className="inline-form" aria-label={t("fromTemplate")}>
        <label>{t("template")}
          <select value={template} onChange={(e) => setTemplate(e.target.value)}>
            {templates.map((tpl) => <option key={tpl.id} value={tpl.id}>{tpl.name} ({tpl.nodeCount})</option>)}
          </select>
        </label>
        <button type="submit">{t("fromTemplate")}</button>
        <label>{t("importFile")}
          <input type="file" accept=".json,application/json" onChange={(e) => e.target.files?.[0] && importFlows(e.target.files[0])} />
        </label>
      </form>
    </section>
  );
}
