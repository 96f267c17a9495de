import { useCallback, useEffect, useState, type FormEvent } from "react";
import { gql, errorText } from "../api";
import { graphql } from "../gql";
import type { BotSettingsQuery } from "../gql/graphql";
import { useI18n } from "../i18n";
import { go } from "../routes";

const Load = graphql(`
  query BotSettings($id: ID!) { bot(id: $id) { id name description settings sensitiveData defaultFlowId flows { id name } } }
`);
const Update = graphql(`mutation UpdateBot($id: ID!, $input: BotUpdate!) { updateBot(id: $id, input: $input) { id } }`);
const SetDefault = graphql(`mutation SetBotDefaultFlow($bot: ID!, $flow: ID) { setDefaultFlow(botId: $bot, flowId: $flow) { id } }`);
const Delete = graphql(`mutation DeleteBot($id: ID!) { deleteBot(id: $id) }`);

/** The engine's default when a bot sets no `inactivity_timeout_seconds` (activities/conversation_store.py). */
const DEFAULT_INACTIVITY_MINUTES = 24 * 60;

/** `#/bots/ID/settings`: what `updateBot` and `setDefaultFlow` change, and deleting the bot. */
export function BotSettingsPage({ id }: { id: string }) {
  const { t } = useI18n();
  const [bot, setBot] = useState<BotSettingsQuery["bot"] | null>(null);
  const [form, setForm] = useState({ name: "", description: "", sensitiveData: false, minutes: "", defaultFlow: "" });
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);
  const [confirmName, setConfirmName] = useState("");
  const reload = useCallback(() => gql(Load, { id }).then(({ bot }) => {
    setBot(bot);
    const seconds = bot.settings?.inactivity_timeout_seconds;
    setForm({
      name: bot.name, description: bot.description, sensitiveData: bot.sensitiveData,
      minutes: typeof seconds === "number" ? String(seconds / 60) : "", defaultFlow: bot.defaultFlowId ?? "",
    });
  }, (e) => setNotice({ ok: false, text: errorText(e) })), [id]);
  useEffect(() => { reload(); }, [reload]);

  async function save(event: FormEvent) {
    event.preventDefault();
    if (!bot) return;
    const settings = { ...bot.settings };
    if (form.minutes === "") delete settings.inactivity_timeout_seconds;
    else settings.inactivity_timeout_seconds = Math.round(Number(form.minutes) * 60);
    try {
      const input = { name: form.name, description: form.description, sensitiveData: form.sensitiveData, settings };
      await gql(Update, { id, input });
      if (form.defaultFlow !== (bot.defaultFlowId ?? "")) await gql(SetDefault, { bot: id, flow: form.defaultFlow || null });
      await reload();
      setNotice({ ok: true, text: t("settingsSaved") });
    } catch (err) { setNotice({ ok: false, text: errorText(err) }); }
  }
  async function remove(event: FormEvent) {
    event.preventDefault();
    try {
      await gql(Delete, { id });
      go("bots");
    } catch (err) { setNotice({ ok: false, text: errorText(err) }); }
  }
  if (!bot) return <section className="page">{notice && <p role="alert" className="error">{notice.text}</p>}</section>;
  return (
    <section className="page bot-settings">
      <p><a href={`#/bots/${id}`}>← {bot.name}</a></p>
      <h1>{t("botSettings")}</h1>
      {notice && <p role="alert" className={notice.ok ? "ok" : "error"} data-testid="settings-notice">{notice.text}</p>}
      <form onSubmit={save} className="stacked-form" aria-label={t("botSettings")}>
        <label>{t("botName")}<input required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} /></label>
        <label>{t("description")}<textarea value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} /></label>
        <label>{t("defaultFlow")}
          <select value={form.defaultFlow} onChange={(e) => setForm({ ...form, defaultFlow: e.target.value })}>
            <option value="">{t("noDefaultFlow")}</option>
            {bot.flows.map((f) => <option key={f.id} value={f.id}>{f.name}</option>)}
          </select>
        </label>
        <label>{t("inactivityMinutes")}
          <input type="number" min={1} step="any" value={form.minutes} placeholder={String(DEFAULT_INACTIVITY_MINUTES)}
            onChange={(e) => setForm({ ...form, minutes: e.target.value })} aria-describedby="inactivity-hint" />
        </label>
        <p className="hint" id="inactivity-hint">{t("inactivityHint")}</p>
        <label className="check">
          <input type="checkbox" checked={form.sensitiveData} onChange={(e) => setForm({ ...form, sensitiveData: e.target.checked })}
            aria-describedby="sensitive-hint" />
          {t("sensitiveData")}
        </label>
        <p className="hint" id="sensitive-hint">{t("sensitiveHint")}</p>
        <button type="submit" className="primary">{t("save")}</button>
      </form>
      <form onSubmit={remove} className="stacked-form danger-zone" aria-label={t("deleteBot")}>
        <h2>{t("deleteBot")}</h2>
        <p>{t("deleteBotWarning")}</p>
        <label>{t("typeNameToDelete")} <strong>{bot.name}</strong>
          <input value={confirmName} onChange={(e) => setConfirmName(e.target.value)} autoComplete="off" />
        </label>
        <button type="submit" className="danger" disabled={confirmName !== bot.name}>{t("deleteBot")}</button>
      </form>
    </section>
  );
}
