import { Empty } from "../../components/Empty";
import { PageHeader } from "../../components/PageHeader";
import { usePageTitle, type PageProps } from "../../lib/page";

export default function Page(_props: PageProps) {
  usePageTitle("Sync jobs");
  return (
    <>
      <PageHeader title="Sync jobs" />
      <Empty>This page is being built.</Empty>
    </>
  );
}
