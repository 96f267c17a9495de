import { useCallback, useEffect, useState, type FormEvent } from "react";
import { gql, errorText } from "../api";
import { graphql } from "../gql";
import type { WebhookDeliveriesQuery, WebhookEndpointsQuery } from "../gql/graphql";
import { useI18n } from "../i18n";
import { go } from "../routes";
import { SecretOnce } from "../components/Confirm";

const Endpoints = graphql(`
  query WebhookEndpoints {
    bots { id name }
    webhookEventTypes
    webhookEndpoints {
      id botId url description events active disabled disabledReason failingSince temporalUrl
      stats { total succeeded failed pending averageLatencyMs lastSuccessAt lastError }
    }
  }
`);
const Deliveries = graphql(`
  query WebhookDeliveries($id: ID!) {
    webhookDeliveries(endpointId: $id, first: 50) {
      id webhookId eventType status createdAt
      attempts { attemptedAt statusCode durationMs error }
    }
  }
`);
const Create = graphql(`
  mutation CreateWebhook($bot: ID, $input: WebhookEndpointInput!) {
    createWebhookEndpoint(botId: $bot, input: $input) { secret endpoint { id } }
  }
`);
const SetActive = graphql(`mutation SetWebhookActive($id: ID!, $active: Boolean!) { updateWebhookEndpoint(id: $id, input: { active: $active }) { id } }`);
const SendTest = graphql(`mutation SendTestWebhook($id: ID!) { sendTestWebhook(endpointId: $id) { id } }`);
const Redeliver = graphql(`mutation RedeliverWebhook($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }`);

type Endpoint = WebhookEndpointsQuery["webhookEndpoints"][number];
type Delivery = WebhookDeliveriesQuery["webhookDeliveries"][number];
const POLL_MS = 2_000;
const STATUSES = new Set(["pending", "succeeded", "failed"]);

export function WebhooksPage({ route }: { route: string[] }) {
  const { t } = useI18n();
  const [data, setData] = useState<WebhookEndpointsQuery | null>(null);
  const [form, setForm] = useState({ url: "", description: "", bot: "", events: ["*"] });
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState("");
  const selected = route[1] ?? null;
  const reload = useCallback(() => gql(Endpoints, {}).then(setData), []);
  const run = (action: () => Promise<unknown>) =>
    action().then(reload).then(() => setError("")).catch((e) => setError(errorText(e)));
  useEffect(() => {
    reload();
    const timer = setInterval(reload, POLL_MS);
    return () => clearInterval(timer);
  }, [reload]);

  const create = (event: FormEvent) => {
    event.preventDefault();
    run(async () => {
      const input = { url: form.url, description: form.description, events: form.events };
      const created = (await gql(Create, { bot: form.bot || null, input })).createWebhookEndpoint;
      setSecret(created.secret);
      setForm({ ...form, url: "", description: "" });
    });
  };
  const toggle = (event: string) => setForm({
    ...form, events: form.events.includes(event) ? form.events.filter((e) => e !== event) : [...form.events, event],
  });
  const botName = (id: string | null | undefined) => (id ? data?.bots.find((b) => b.id === id)?.name ?? id : t("allBots"));

  return (
    <section className="page webhooks-page">
      <h1>{t("webhooks")}</h1>
      {error && <p role="alert" className="error">{error}</p>}
      <form className="inline-form" onSubmit={create} aria-label={t("newEndpoint")}>
        <h2>{t("newEndpoint")}</h2>
        <label>URL<input type="url" required value={form.url} onChange={(e) => setForm({ ...form, url: e.target.value })} /></label>
        <label>{t("description")}<input value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} /></label>
        <label>{t("bot")}<select value={form.bot} onChange={(e) => setForm({ ...form, bot: e.target.value })}>
          <option value="">{t("allBots")}</option>
          {data?.bots.map((b) => <option key={b.id} value={b.id}>{b.name}</option>)}
        </select></label>
        <fieldset className="events">
          <legend>{t("events")}</legend>
          {["*", ...(data?.webhookEventTypes ?? [])].map((event) => (
            <label key={event} className="check">
              <input type="checkbox" checked={form.events.includes(event)} onChange={() => toggle(event)} />
              {event === "*" ? t("allEvents") : event}
            </label>
          ))}
        </fieldset>
        <button className="primary" disabled={!form.events.length}>{t("create")}</button>
      </form>
      {secret && <SecretOnce testId="webhook-secret" intro={t("secretOnce")} value={secret} onDone={() => setSecret(null)} />}
      <ul className="cards">
        {data?.webhookEndpoints.map((endpoint) => (
          <EndpointCard key={endpoint.id} endpoint={endpoint} botName={botName(endpoint.botId)} selected={endpoint.id === selected}
            run={run} />
        ))}
      </ul>
      {data && data.webhookEndpoints.length === 0 && <p className="hint">{t("noEndpoints")}</p>}
      {selected && <DeliveryLog endpointId={selected} run={run} />}
    </section>
  );
}

function EndpointCard({ endpoint, botName, selected, run }: {
  endpoint: Endpoint; botName: string; selected: boolean; run: (action: () => Promise<unknown>) => void;
}) {
  const { t, number } = useI18n();
  const { stats } = endpoint;
  const state = endpoint.disabled ? "disabled" : endpoint.active ? "active" : "paused";
  return (
    <li className={`card endpoint ${state}${selected ? " selected" : ""}`} data-testid="webhook-endpoint">
      <strong className="endpoint-url">{endpoint.url}</strong>
      <div>
        <span className="badge" data-testid="endpoint-state">{t(state === "active" ? "active" : state === "disabled" ? "disabledState" : "paused")}</span>{" "}
        {botName} · {endpoint.events.join(", ")}
      </div>
      {endpoint.description && <div className="hint">{endpoint.description}</div>}
      {endpoint.disabled && <p className="error">{endpoint.disabledReason}</p>}
      <dl className="stats" data-testid="endpoint-stats">
        <div><dt>{t("deliveries")}</dt><dd>{number(stats.total)}</dd></div>
        <div><dt>{t("succeeded")}</dt><dd data-testid="stat-succeeded">{number(stats.succeeded)}</dd></div>
        <div><dt>{t("failed")}</dt><dd>{number(stats.failed)}</dd></div>
        <div><dt>{t("pending")}</dt><dd>{number(stats.pending)}</dd></div>
        {stats.averageLatencyMs != null && <div><dt>{t("latency")}</dt><dd>{number(Math.round(stats.averageLatencyMs))} ms</dd></div>}
      </dl>
      {stats.lastError && <p className="error">{t("lastError")}: {stats.lastError}</p>}
      <div className="actions">
        <button onClick={() => run(() => gql(SendTest, { id: endpoint.id }))}>{t("sendTest")}</button>
        {state === "active"
          ? <button onClick={() => run(() => gql(SetActive, { id: endpoint.id, active: false }))}>{t("pause")}</button>
          : <button onClick={() => run(() => gql(SetActive, { id: endpoint.id, active: true }))}>{t("enable")}</button>}
        <button className="link" onClick={() => go(`webhooks/${endpoint.id}`)}>{t("deliveryLog")}</button>
        <a href={endpoint.temporalUrl} target="_blank" rel="noreferrer">{t("temporal")}</a>
      </div>
    </li>
  );
}

function DeliveryLog({ endpointId, run }: { endpointId: string; run: (action: () => Promise<unknown>) => void }) {
  const { t, date } = useI18n();
  const [rows, setRows] = useState<Delivery[]>([]);
  useEffect(() => {
    const load = () => gql(Deliveries, { id: endpointId }).then((d) => setRows(d.webhookDeliveries)).catch(() => setRows([]));
    load();
    const timer = setInterval(load, POLL_MS);
    return () => clearInterval(timer);
  }, [endpointId]);
  return (
    <section aria-label={t("deliveryLog")}>
      <h2>{t("deliveryLog")}</h2>
      <table className="deliveries" data-testid="delivery-log">
        <thead><tr><th>{t("event")}</th><th>{t("status")}</th><th>{t("attempts")}</th><th>{t("lastAttempt")}</th><th>{t("created")}</th><th><span className="sr-only">{t("actions")}</span></th></tr></thead>
        <tbody>
          {rows.map((row) => {
            const last = row.attempts[row.attempts.length - 1];
            return (
              <tr key={row.id} data-testid="delivery" data-status={row.status}>
                <td>{row.eventType}<br /><code>{row.webhookId}</code></td>
                <td>{STATUSES.has(row.status) ? t(row.status as "pending") : row.status}</td>
                <td>{row.attempts.length}</td>
                <td>{last ? `${last.statusCode ?? last.error ?? "–"} · ${last.durationMs} ms` : "–"}</td>
                <td>{date(row.createdAt)}</td>
                <td><button onClick={() => run(() => gql(Redeliver, { id: row.id }))}>{t("redeliver")}</button></td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {rows.length === 0 && <p className="hint">{t("noDeliveries")}</p>}
    </section>
  );
}
