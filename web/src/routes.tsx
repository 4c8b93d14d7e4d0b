import { lazy, Suspense, type ReactNode } from "react";
import { createBrowserRouter, Navigate, useLocation, useRouteError } from "react-router";
import { useClaims } from "./auth/useSession";
import { AcceptInvitation } from "./pages/AcceptInvitation";
import { Account } from "./pages/Account";
import { ConfirmEmailChange } from "./pages/ConfirmEmailChange";
import { LessonPage } from "./pages/LessonPage";
import { MyLessons } from "./pages/MyLessons";
import { NotFound } from "./pages/NotFound";
import { ForgotPassword, ResetPassword } from "./pages/PasswordReset";
import { SignIn } from "./pages/SignIn";
import { Unsubscribe } from "./pages/Unsubscribe";
import { VerifyEmail } from "./pages/VerifyEmail";
import { Watch } from "./pages/Watch";
import { Layout } from "./ui/Layout";
import { ErrorNotice, Loading } from "./ui/states";

// The teacher's and admin's areas load only for them: a student's first visit stays small.
const Studio = lazy(() => import("./pages/Studio"));
const Admin = lazy(() => import("./pages/Admin"));

function RequireSession({ children }: { children: ReactNode }) {
  const claims = useClaims();
  const location = useLocation();
  if (!claims) return <Navigate to={`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <>{children}</>;
}

function Home() {
  const claims = useClaims();
  if (claims?.role === "PLATFORM_ADMIN") return <Navigate to="/admin" replace />;
  return <Navigate to={claims?.role === "TEACHER" || claims?.role === "ADMIN" ? "/teach" : "/lessons"} replace />;
}

function RouteError() {
  const error = useRouteError();
  return (
    <main id="main" className="page">
      <h1>Something went wrong</h1>
      <ErrorNotice error={error} retry={() => window.location.reload()} />
    </main>
  );
}

export const router = createBrowserRouter([
  { path: "/sign-in", element: <SignIn />, errorElement: <RouteError /> },
  { path: "/accept-invitation", element: <AcceptInvitation />, errorElement: <RouteError /> },
  { path: "/verify-email", element: <VerifyEmail />, errorElement: <RouteError /> },
  { path: "/forgot-password", element: <ForgotPassword />, errorElement: <RouteError /> },
  { path: "/reset-password", element: <ResetPassword />, errorElement: <RouteError /> },
  { path: "/confirm-email-change", element: <ConfirmEmailChange />, errorElement: <RouteError /> },
  { path: "/unsubscribe", element: <Unsubscribe />, errorElement: <RouteError /> },
  {
    element: (
      <RequireSession>
        <Layout />
      </RequireSession>
    ),
    errorElement: <RouteError />,
    children: [
      { index: true, element: <Home /> },
      { path: "lessons", element: <MyLessons /> },
      { path: "lessons/:lessonId", element: <LessonPage /> },
      { path: "lessons/:lessonId/videos/:videoId", element: <Watch /> },
      { path: "account", element: <Account /> },
      { path: "teach/*", element: <Suspense fallback={<Loading />}><Studio /></Suspense> },
      { path: "admin/*", element: <Suspense fallback={<Loading />}><Admin /></Suspense> },
      { path: "*", element: <NotFound /> },
    ],
  },
]);
