import { useEffect, useMemo, useState } from "react";
import { ReactFlowProvider } from "@xyflow/react";
import { gql, session, errorText } from "../api";
import { graphql } from "../gql";
import type { AnalyticsPageQuery, FlowFunnelQuery } from "../gql/graphql";
import { useI18n, type Key } from "../i18n";
import { FunnelCanvas } from "./FunnelCanvas";
import { MessagesChart } from "./MessagesChart";

const AnalyticsBots = graphql(`query AnalyticsBots { bots { id name flows { id name publishedVersionId } } }`);
const AnalyticsData = graphql(`
  query AnalyticsPage($bot: ID!, $from: Date!, $to: Date!, $tz: String!) {
    analyticsDashboard(botId: $bot, from: $from, to: $to, timeZone: $tz) {
      totals { messagesIn messagesOut uniqueContacts newContacts conversationsStarted conversationsCompleted
               conversationsAbandoned conversationsHandedOff flowsStarted flowsCompleted errors avgResponseMs }
      changes { metric current previous changePercent }
      activeConversationsNow
      messagesByDay { key inbound outbound }
      topKeywords { label count }
    }
    analyticsSatisfaction(botId: $bot, from: $from, to: $to, timeZone: $tz) {
      responses positive neutral negative score positivePercent
    }
    analyticsRealTime(botId: $bot) { activeContactsLast5Minutes messagesLastHour waitingForAgent }
  }
`);
const FlowFunnel = graphql(`
  query FlowFunnel($flow: ID!, $version: ID!, $from: Date!, $to: Date!, $tz: String!) {
    flowAnalytics(flowId: $flow, from: $from, to: $to, timeZone: $tz) {
      runs completions abandoned failed completionRate
      nodes { nodeId reached dropped }
      edges { edgeId source target visits }
      questions { nodeId answered invalid invalidRate answers { answer count } }
    }
    flowVersion(id: $version) { definition }
  }
`);

type Totals = AnalyticsPageQuery["analyticsDashboard"]["totals"];
type Bot = { id: string; name: string; flows: { id: string; name: string; publishedVersionId?: string | null }[] };
const TILES: [keyof Totals, Key][] = [
  ["messagesIn", "messagesIn"], ["messagesOut", "messagesOut"], ["uniqueContacts", "uniqueContacts"],
  ["newContacts", "newContacts"], ["conversationsStarted", "conversationsStarted"],
  ["conversationsHandedOff", "conversationsHandedOff"], ["conversationsAbandoned", "conversationsAbandoned"],
  ["flowsCompleted", "flowsCompleted"], ["errors", "errors"], ["avgResponseMs", "avgResponseMs"],
];
/** Tiles where a rise is bad news (their arrow up is painted as a warning). */
const LOWER_IS_BETTER = new Set<keyof Totals>(["conversationsAbandoned", "errors", "avgResponseMs"]);
const EXPORTS = ["report.csv", "report.json", "report.html", "messages.csv", "conversations.csv"];

function isoDay(date: Date): string {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
}

function zones(): string[] {
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return [...new Set(["UTC", own, ...Intl.supportedValuesOf("timeZone")])];
}

/** camelCase field → the API's metric name (`messagesIn` → `messages_in`). */
const metricName = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export function AnalyticsPage() {
  const { t, number } = useI18n();
  const [bots, setBots] = useState<Bot[]>([]);
  const [botId, setBotId] = useState("");
  const [range, setRange] = useState(() => {
    const today = new Date();
    const weekAgo = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 6);
    return { from: isoDay(weekAgo), to: isoDay(today), tz: Intl.DateTimeFormat().resolvedOptions().timeZone };
  });
  const [data, setData] = useState<AnalyticsPageQuery | null>(null);
  const [flowId, setFlowId] = useState("");
  const [funnel, setFunnel] = useState<FlowFunnelQuery | null>(null);
  const [error, setError] = useState("");
  const bot = bots.find((b) => b.id === botId);
  const published = useMemo(() => (bot?.flows ?? []).filter((f) => f.publishedVersionId), [bot]);

  useEffect(() => {
    gql(AnalyticsBots, {}).then((d) => { setBots(d.bots); setBotId((b) => b || d.bots[0]?.id || ""); });
  }, []);
  useEffect(() => { setFlowId((f) => (published.some((p) => p.id === f) ? f : published[0]?.id ?? "")); }, [published]);
  useEffect(() => {
    if (!botId) return;
    const load = () => gql(AnalyticsData, { bot: botId, ...range })
      .then((d) => { setData(d); setError(""); })
      .catch((e) => setError(errorText(e)));
    load();
    const timer = setInterval(load, 30_000); // the real-time tiles
    return () => clearInterval(timer);
  }, [botId, range]);
  useEffect(() => {
    const version = published.find((f) => f.id === flowId)?.publishedVersionId;
    if (!version) { setFunnel(null); return; }
    gql(FlowFunnel, { flow: flowId, version, ...range }).then(setFunnel)
      .catch((e) => setError(errorText(e)));
  }, [flowId, published, range]);

  const trend = (field: keyof Totals) => data?.analyticsDashboard.changes.find((c) => c.metric === metricName(field));
  const dashboard = data?.analyticsDashboard;
  const satisfaction = data?.analyticsSatisfaction;
  const live = data?.analyticsRealTime;
  const rate = (value: number | null | undefined) => (value == null ? "–" : `${number(Math.round(value * 10) / 10)}%`);

  return (
    <section className="page analytics">
      <h1>{t("analytics")}</h1>
      <form className="inline-form" onSubmit={(e) => e.preventDefault()}>
        <label>{t("bot")}<select value={botId} onChange={(e) => setBotId(e.target.value)}>
          {bots.map((b) => <option key={b.id} value={b.id}>{b.name}</option>)}
        </select></label>
        <label>{t("from")}<input type="date" value={range.from} max={range.to} onChange={(e) => e.target.value && setRange({ ...range, from: e.target.value })} /></label>
        <label>{t("to")}<input type="date" value={range.to} min={range.from} onChange={(e) => e.target.value && setRange({ ...range, to: e.target.value })} /></label>
        <label>{t("timeZone")}<select value={range.tz} onChange={(e) => setRange({ ...range, tz: e.target.value })}>
          {zones().map((z) => <option key={z} value={z}>{z}</option>)}
        </select></label>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
      {live && (
        <section aria-label={t("rightNow")}>
          <h2>{t("rightNow")}</h2>
          <ul className="tiles live">
            <Tile testId="live-contacts" label={t("activeContacts5m")} value={number(live.activeContactsLast5Minutes)} />
            <Tile testId="live-messages" label={t("messagesLastHour")} value={number(live.messagesLastHour)} />
            <Tile testId="live-waiting" label={t("waitingForAgent")} value={number(live.waitingForAgent)} />
            <Tile testId="live-active" label={t("activeConversations")} value={number(dashboard?.activeConversationsNow ?? 0)} />
          </ul>
        </section>
      )}
      {dashboard && (
        <section aria-label={t("period")}>
          <h2>{t("period")}</h2>
          <ul className="tiles">
            {TILES.map(([field, label]) => {
              const value = dashboard.totals[field];
              const shown = value == null ? "–" : field === "avgResponseMs" ? `${number(Math.round(value))} ms` : number(value);
              return <Tile key={field} testId={`tile-${field}`} label={t(label)} value={shown} change={trend(field)}
                lowerIsBetter={LOWER_IS_BETTER.has(field)} />;
            })}
          </ul>
          <h2>{t("messagesOverTime")}</h2>
          <MessagesChart from={range.from} to={range.to} known={dashboard.messagesByDay} />
          {dashboard.topKeywords.length > 0 && (
            <p>{t("topKeywords")}: {dashboard.topKeywords.map((k) => `${k.label} (${number(k.count)})`).join(", ")}</p>
          )}
        </section>
      )}
      {satisfaction && (
        <section aria-label={t("satisfaction")} data-testid="satisfaction">
          <h2>{t("satisfaction")}</h2>
          {satisfaction.responses === 0 ? <p className="hint">{t("noRatings")}</p> : (
            <ul className="tiles">
              <Tile testId="csat-score" label={t("score")} value={satisfaction.score == null ? "–" : `${number(satisfaction.score)} / 5`} />
              <Tile testId="csat-positive" label={t("positive")} value={rate(satisfaction.positivePercent)} />
              <Tile testId="csat-responses" label={t("responsesCount")}
                value={`${number(satisfaction.responses)} (${number(satisfaction.positive)} / ${number(satisfaction.neutral)} / ${number(satisfaction.negative)})`} />
            </ul>
          )}
        </section>
      )}
      <section aria-label={t("funnel")}>
        <h2>{t("funnel")}</h2>
        {published.length === 0 ? <p className="hint">{t("noPublishedFlows")}</p> : (
          <>
            <div className="inline-form">
              <label>{t("flow")}<select value={flowId} onChange={(e) => setFlowId(e.target.value)}>
                {published.map((f) => <option key={f.id} value={f.id}>{f.name}</option>)}
              </select></label>
              {funnel && (
                <p data-testid="funnel-summary">
                  {t("runs")}: {number(funnel.flowAnalytics.runs)} · {t("completions")}: {number(funnel.flowAnalytics.completions)}
                  {" "}· {t("abandonedRuns")}: {number(funnel.flowAnalytics.abandoned)} · {t("completionRate")}: {rate(funnel.flowAnalytics.completionRate == null ? null : funnel.flowAnalytics.completionRate * 100)}
                </p>
              )}
            </div>
            {funnel && <ReactFlowProvider key={flowId}><FunnelCanvas definition={funnel.flowVersion.definition} funnel={funnel.flowAnalytics} /></ReactFlowProvider>}
            {funnel && funnel.flowAnalytics.questions.length > 0 && (
              <table className="questions" data-testid="questions">
                <caption>{t("answersPerQuestion")}</caption>
                <thead><tr><th>{t("node")}</th><th>{t("answered")}</th><th>{t("invalidRate")}</th><th>{t("answers")}</th></tr></thead>
                <tbody>
                  {funnel.flowAnalytics.questions.map((q) => (
                    <tr key={q.nodeId}>
                      <td><code>{q.nodeId}</code></td>
                      <td>{number(q.answered)}</td>
                      <td>{rate(q.invalidRate == null ? null : q.invalidRate * 100)}</td>
                      <td>{q.answers.map((a) => `${a.answer} (${number(a.count)})`).join(", ")}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        )}
      </section>
      {botId && (
        <section aria-label={t("downloads")}>
          <h2>{t("downloads")}</h2>
          <div className="downloads">
            {EXPORTS.map((file) => (
              <button key={file} onClick={() => download(botId, file, range).catch((e) => setError(String(e)))}>{file}</button>
            ))}
          </div>
        </section>
      )}
    </section>
  );
}

type Change = { current: number; previous: number; changePercent?: number | null };

function Tile({ label, value, change, testId, lowerIsBetter = false }:
  { label: string; value: string; change?: Change; testId: string; lowerIsBetter?: boolean }) {
  const { t, number } = useI18n();
  const direction = !change ? null : change.current > change.previous ? "up" : change.current < change.previous ? "down" : "flat";
  const arrow = { up: "▲", down: "▼", flat: "▶" };
  const amount = change?.changePercent != null ? `${change.changePercent > 0 ? "+" : ""}${number(change.changePercent)}%` : t("fromZero");
  return (
    <li className="tile" data-testid={testId}>
      <span className="tile-label">{label}</span>
      <strong className="tile-value">{value}</strong>
      {direction && (
        <span className={`trend ${direction} ${(direction === "up") !== lowerIsBetter ? "better" : "worse"}`} title={t("vsPrevious")}>
          {arrow[direction]} {direction === "flat" && change?.previous === 0 ? "" : amount}
        </span>
      )}
    </li>
  );
}

/** The downloads need the bearer token, so fetch them and hand the browser a blob to save. */
async function download(botId: string, file: string, range: { from: string; to: string; tz: string }): Promise<void> {
  await gql(AnalyticsBots, {}); // refreshes an expired access token first
  const query = new URLSearchParams({ from: range.from, to: range.to, tz: range.tz });
  const response = await fetch(`/api/bots/${botId}/analytics/${file}?${query}`, {
    headers: { Authorization: `Bearer ${session()?.accessToken ?? ""}` },
  });
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: `${range.from}_${range.to}_${file}` });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
