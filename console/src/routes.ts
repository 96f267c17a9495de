// Hash routes (the API serves one index.html): `#/bots/ID/flows/ID` → ["bots", "ID", "flows", "ID"].
import { useEffect, useState } from "react";

export function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const [parts, setParts] = useState(read);
  useEffect(() => {
    const update = () => setParts(read());
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return parts;
}

export function go(path: string): void {
  location.hash = `#/${path}`;
}
