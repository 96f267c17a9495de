import { useI18n } from "../i18n";

const WIDTH = 720, HEIGHT = 200, PAD = 28;

type Day = { key: string; inbound: number; outbound: number };

/** Every day from..to (the API lists only days with messages), zero where it has none. */
function everyDay(from: string, to: string, known: Day[]): Day[] {
  const byKey = new Map(known.map((d) => [d.key, d]));
  const days: Day[] = [];
  for (let day = new Date(`${from}T00:00:00Z`); day <= new Date(`${to}T00:00:00Z`); day.setUTCDate(day.getUTCDate() + 1)) {
    const key = day.toISOString().slice(0, 10);
    days.push(byKey.get(key) ?? { key, inbound: 0, outbound: 0 });
  }
  return days;
}

/** Messages per local day, inbound and outbound, as two lines in an inline SVG. */
export function MessagesChart({ from, to, known }: { from: string; to: string; known: Day[] }) {
  const { t, number } = useI18n();
  const days = everyDay(from, to, known);
  const top = Math.max(1, ...days.flatMap((d) => [d.inbound, d.outbound]));
  const x = (i: number) => PAD + (days.length > 1 ? (i * (WIDTH - 2 * PAD)) / (days.length - 1) : (WIDTH - 2 * PAD) / 2);
  const y = (n: number) => HEIGHT - PAD - (n * (HEIGHT - 2 * PAD)) / top;
  const line = (pick: (d: (typeof days)[number]) => number) => days.map((d, i) => `${x(i)},${y(pick(d))}`).join(" ");
  const every = Math.max(1, Math.ceil(days.length / 8));
  return (
    <figure className="chart" data-testid="messages-chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={t("messagesOverTime")}>
        <line x1={PAD} y1={HEIGHT - PAD} x2={WIDTH - PAD} y2={HEIGHT - PAD} stroke="#8a8f98" />
        <text x={4} y={PAD} fontSize="11">{number(top)}</text>
        <text x={4} y={HEIGHT - PAD} fontSize="11">0</text>
        <polyline points={line((d) => d.inbound)} fill="none" stroke="#1a56db" strokeWidth="2" />
        <polyline points={line((d) => d.outbound)} fill="none" stroke="#e07b00" strokeWidth="2" strokeDasharray="5 3" />
        {days.map((d, i) => (
          <g key={d.key}>
            <circle cx={x(i)} cy={y(d.inbound)} r="3" fill="#1a56db"><title>{`${d.key}: ${d.inbound} ${t("messagesIn")}`}</title></circle>
            <circle cx={x(i)} cy={y(d.outbound)} r="3" fill="#e07b00"><title>{`${d.key}: ${d.outbound} ${t("messagesOut")}`}</title></circle>
            {i % every === 0 && <text x={x(i)} y={HEIGHT - 8} fontSize="11" textAnchor="middle">{d.key.slice(5)}</text>}
          </g>
        ))}
      </svg>
      <figcaption>
        <span className="key in">{t("messagesIn")}</span> <span className="key out">{t("messagesOut")}</span>
      </figcaption>
    </figure>
  );
}
