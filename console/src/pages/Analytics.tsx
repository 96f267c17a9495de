import { useI18n } from "../i18n";

/** The slot for the analytics dashboard; it is built once the analytics API lands. */
export function AnalyticsPage() {
  const { t } = useI18n();
  return (
    <section className="page">
      <h1>{t("analytics")}</h1>
      <p>{t("analyticsSoon")}</p>
    </section>
  );
}
