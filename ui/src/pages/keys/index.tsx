import { Empty } from "../../components/Empty";
import { PageHeader } from "../../components/PageHeader";
import { usePageTitle, type PageProps } from "../../lib/page";

export default function Page(_props: PageProps) {
  usePageTitle("API keys");
  return (
    <>
      <PageHeader title="API keys" />
      <Empty>This page is being built.</Empty>
    </>
  );
}
