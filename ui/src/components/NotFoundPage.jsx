import { Link } from '../router.jsx';

export function NotFoundPage() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        This address is not a page of the console. Go to the <Link href="/">overview</Link>.
      </p>
    </section>
  );
}
