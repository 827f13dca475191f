import { AccessPage } from './AccessPage.jsx';
import { ComparePage } from './ComparePage.jsx';
import { ExportPage } from './ExportPage.jsx';
import { DeploymentPage, FleetPage } from './FleetPage.jsx';
import { IntegrityPage } from './IntegrityPage.jsx';
import { NotFoundPage } from './NotFoundPage.jsx';
import { OverviewPage } from './OverviewPage.jsx';
import { PreviewPage } from './PreviewPage.jsx';
import { SnapshotDetailPage } from './SnapshotDetailPage.jsx';
import { SnapshotsPage } from './SnapshotsPage.jsx';
import { TokensPage } from './TokensPage.jsx';
import { TrendsPage } from './TrendsPage.jsx';

/** The page for the current path. */
export function Routes({ loc }) {
  const { path, query } = loc;
  const detail = path.match(/^\/snapshots\/([^/]+)$/);
  if (detail) return <SnapshotDetailPage id={decodeURIComponent(detail[1])} />;
  const deployment = path.match(/^\/fleet\/([^/]+)$/);
  if (deployment) return <DeploymentPage id={decodeURIComponent(deployment[1])} />;
  switch (path.replace(/\/$/, '') || '/') {
    case '/':
      return <OverviewPage />;
    case '/snapshots':
      return <SnapshotsPage query={query} />;
    case '/compare':
      return <ComparePage a={query.get('a') ?? ''} b={query.get('b') ?? ''} />;
    case '/trends':
      return <TrendsPage query={query} />;
    case '/fleet':
      return <FleetPage query={query} />;
    case '/export':
      return <ExportPage query={query} />;
    case '/integrity':
      return <IntegrityPage query={query} />;
    case '/preview':
      return <PreviewPage />;
    case '/access':
      return <AccessPage />;
    case '/tokens':
      return <TokensPage />;
    default:
      return <NotFoundPage />;
  }
}
