import type { PageProps } from "../../lib/page";
import "../endpoints/endpoints.css";
import "./mappings.css";
import { MappingEditor } from "./MappingEditor";
import { MappingList } from "./MappingList";

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `/mappings` and `/mappings/:eventType/:targetSystem`. */
export default function Page(props: PageProps) {
  const { eventType, targetSystem } = props.params;
  if (eventType && targetSystem) {
    const et = decode(eventType);
    const ts = decode(targetSystem);
    return (
      <MappingEditor key={`${et}\n${ts}`} eventType={et} targetSystem={ts} />
    );
  }
  return <MappingList />;
}
